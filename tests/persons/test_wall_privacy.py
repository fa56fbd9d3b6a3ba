"""What a wall display (大屏) shows of a person (persons/privacy.py, ``wall``): it is read by
anyone in the room, so a whitelist of an alert's fields, the surname and two marks for an
adult, nothing of a juvenile's name, and no identity, contact or typed text at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from corrections.core.auth import Actor, Role
from corrections.persons import privacy
from corrections.persons.privacy import PersonRef, Visibility

DONGCHENG, XICHENG, OFFICE = 10, 20, 11
WALL = Actor(user_id=None, username="display:1", role=Role.DISPLAY, unit_id=DONGCHENG, display_id=1)


@pytest.mark.parametrize(
    ("juvenile", "district", "sealed", "expected"),
    [
        (False, DONGCHENG, False, Visibility.WALL),
        (True, DONGCHENG, False, Visibility.WALL_MASKED),
        (False, XICHENG, False, Visibility.WALL_MASKED),  # only a bug upstream shows one
        (True, DONGCHENG, True, Visibility.SEALED),
    ],
)
def test_the_wall_policy(juvenile, district, sealed, expected):
    person = PersonRef(1, juvenile, OFFICE, district)
    assert privacy.policy(WALL, person, sealed=sealed) is expected


def test_a_display_is_not_the_system():
    # No user, like the system, but a role: never the system's full view.
    assert not WALL.is_system
    assert privacy.policy(WALL, PersonRef(1, False, OFFICE, XICHENG), sealed=False) is not (
        Visibility.FULL
    )


@pytest.mark.parametrize(
    ("name", "visibility", "shown"),
    [
        ("张伟", Visibility.WALL, "张＊＊"),
        ("欧阳娜娜", Visibility.WALL, "欧＊＊"),  # the given name's length is not shown
        ("王小红", Visibility.WALL_MASKED, "＊＊＊"),
        ("", Visibility.WALL, ""),
        (None, Visibility.WALL_MASKED, None),
    ],
)
def test_a_name_on_the_wall(name, visibility, shown):
    assert privacy.wall_name(name, visibility) == shown


def _alert_view() -> dict:
    return {
        "id": 7,
        "person_id": 42,
        "person_name": "张伟",
        "office_id": OFFICE,
        "district_id": DONGCHENG,
        "office_code": "32990101",
        "office_name_zh": "东城区城关司法所",
        "kind": "obligation_missed",
        "kind_label_zh": "未按期履行",
        "summary_zh": "2026-12-11 报到未按期履行",
        "subject_type": "obligation",
        "subject_id": 99,
        "severity": "warning",
        "status": "acknowledged",
        "detail": {"obligation_kind": "report", "due_on": "2026-12-11", "obligation_id": 99},
        "raised_at": datetime(2026, 12, 12, 2, tzinfo=UTC),
        "acknowledged_by": "officer-dongcheng-1",
        "ack_note": "已电话联系张伟，其住址人民路1号",
        "close_note": None,
        "id_number": "110101199005171234",  # a field a view might carry one day
    }


def test_an_alert_on_the_wall_keeps_only_what_a_board_needs(app):
    with app.app_context():  # the summary is built again, with the rules' labels
        view = privacy.redact("alert", _alert_view(), Visibility.WALL)
    assert view["person_name"] == "张＊＊"
    assert view["detail"] == {"obligation_kind": "report", "due_on": "2026-12-11"}
    assert view["summary_zh"] == "2026-12-11 报到未按期履行"
    assert view["office_name_zh"] == "东城区城关司法所"
    for hidden in (
        "person_id",
        "subject_id",
        "subject_type",
        "acknowledged_by",
        "ack_note",
        "close_note",
        "id_number",
    ):
        assert hidden not in view, hidden
    assert "张伟" not in repr(view) and "人民路" not in repr(view)


def test_a_juveniles_alert_on_the_wall_names_nobody(app):
    with app.app_context():
        view = privacy.redact(
            "alert", {**_alert_view(), "person_name": "王小红"}, Visibility.WALL_MASKED
        )
    assert view["person_name"] == "＊＊＊" and "王" not in repr(view)


def test_any_other_record_on_the_wall_is_its_id_only():
    event = {"id": 3, "person_id": 42, "note": "家访：张伟在家", "type": "visit"}
    assert privacy.redact("event", event, Visibility.WALL) == {"id": 3}
