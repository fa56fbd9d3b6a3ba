"""Valid request bodies of the procedures routes; override what a test is about."""

from __future__ import annotations


def announcement_payload(**overrides) -> dict:
    data = {
        "kind": "intake",
        "held_at": "2026-11-27T09:00:00+08:00",
        "place": "东城区城关司法所宣告室",
        "presided_by": "王所长",
        "attendees": [
            {"name": "李社工", "capacity": "矫正小组成员"},
            {"name": "张父", "capacity": "家属"},
        ],
        "notes": "宣告判决主要内容、矫正期限及应遵守的规定",
    }
    data.update(overrides)
    return data


def member_payload(**overrides) -> dict:
    data = {
        "role": "social_worker",
        "name": "李娜",
        "phone": "13511112222",
        "gender": "female",
        "organisation": "东城区阳光社工事务所",
    }
    data.update(overrides)
    return data


def plan_payload(**overrides) -> dict:
    data = {
        "needs": "无固定工作，交友不慎",
        "measures": "每月就业指导一次；每周电话联系家属",
    }
    data.update(overrides)
    return data


def assessment_payload(**overrides) -> dict:
    data = {
        "requested_by": "滨江市东城区人民法院",
        "requesting_document": "（2026）东刑委评字第7号",
        "requested_on": "2026-09-15",
    }
    data.update(overrides)
    return data


def exit_ban_payload(**overrides) -> dict:
    data = {
        "filed_on": "2026-11-20",
        "filed_with": "滨江市公安局出入境管理支队",
        "document_number": "滨公出备〔2026〕88号",
    }
    data.update(overrides)
    return data
