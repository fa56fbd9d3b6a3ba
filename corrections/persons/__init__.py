"""Persons under community correction (社区矫正对象): intake, profile, status, juveniles."""
