"""Intake and discharge procedures (入矫与解矫程序): announcements, the correction team, the
correction plan, the investigation assessment, the exit ban and the per-person checklist."""
