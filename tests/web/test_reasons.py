"""The reasons and grounds a decision form offers (GET /api/v1/reasons): read from the rules
files with their Chinese labels and articles, each code one the API takes."""

from __future__ import annotations

from corrections.supervision.rules import MONITORING_GROUNDS
from corrections.web.reasons import KINDS


def _reasons(api, *kinds):
    resp = api.get("/api/v1/reasons", query_string={"kind": list(kinds)})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _by_code(rows):
    return {r["code"]: r for r in rows}


def test_monitoring_grounds_are_the_five_of_article_29_in_order(login):
    rows = _reasons(login("commander-dongcheng"), "monitoring_ground")
    assert [r["code"] for r in rows] == list(MONITORING_GROUNDS)
    assert [r["number"] for r in rows] == [1, 2, 3, 4, 5]
    first = rows[0]
    assert first["label_zh"] == "违反人民法院禁止令" and first["article"] == "社区矫正法 29(1)"
    assert first["basis"] == "statute"


def test_sanctions_name_their_label_article_and_deciding_level(login):
    rows = _by_code(_reasons(login("officer-dongcheng-1"), "sanction"))
    assert set(rows) == {
        "admonition",
        "warning",
        "revocation",
        "return_to_custody",
        "police_penalty",
    }
    assert rows["warning"]["label_zh"] == "警告"
    assert rows["warning"]["article"] == "实施办法 35 (UNVERIFIED)"
    assert (rows["revocation"]["level"], rows["revocation"]["level_label_zh"]) == (
        "district",
        "区司法局",
    )


def test_sanction_grounds_say_what_they_propose_on_which_article(login):
    rows = _by_code(_reasons(login("officer-dongcheng-1"), "sanction_ground"))
    warning = rows["absence:warning"]
    assert warning["label_zh"] == "脱离监管" and warning["proposes_label_zh"] == "警告"
    assert warning["article"] == "实施办法 35(2) (UNVERIFIED)"
    assert rows["admonitions:warning"]["article"] == "实施办法 35(5) (UNVERIFIED)"
    assert rows["prohibition:warning"]["label_zh"] == "违反人民法院禁止令"


def test_revocation_grounds_follow_the_category(login):
    rows = _by_code(_reasons(login("commander-dongcheng"), "revocation_ground"))
    parole = rows["parole:absence"]
    assert parole["proposes"] == "revocation" and parole["category_label_zh"] == "假释"
    assert parole["article"] == "实施办法 47(1) (UNVERIFIED); 刑诉法解释 543 ¶2"
    control = rows["control_order:warnings"]
    assert control["proposes"] == "police_penalty" and control["proposes_label_zh"] == (
        "提请治安管理处罚"
    )
    # A 禁止令 is imposed with 管制 or 缓刑 only: no breach ground for parole.
    assert "suspended_sentence:prohibition" in rows and "parole:prohibition" not in rows
    custody = rows["temporary_outside_custody:condition_ended"]
    assert custody["label_zh"] == "暂予监外执行的情形消失后，刑期未满"
    assert custody["proposes"] == "return_to_custody"


def test_grades_terminations_and_the_rest_come_labelled(login):
    api = login("city")
    grades = _reasons(api, "grade")
    assert [(g["code"], g["label_zh"]) for g in grades][:2] == [
        ("strict", "严格"),
        ("tight", "从严"),
    ]
    assert grades[0]["grade_level_label_zh"] == "严管"
    change = _by_code(_reasons(api, "grade_change"))["stricter_warning_strict"]
    assert change["label_zh"] == "受到警告的，调整为严格" and change["proposes"] == "strict"
    ends = _by_code(_reasons(api, "termination", "discharge"))
    assert ends["death"]["label_zh"] == "死亡" and ends["death"]["kind"] == "termination"
    assert ends["death"]["article"] == "社区矫正法 45, 46, 49, 51"
    assert ends["pardon"]["label_zh"] == "被赦免解除矫正" and ends["pardon"]["kind"] == "discharge"
    closes = _by_code(_reasons(api, "incident_close"))
    assert set(closes) == {"returned", "found", "custody", "revoked"}  # detained: the system's
    assert _by_code(_reasons(api, "flag_level"))["office"]["label_zh"] == "司法所挂牌"
    assert _by_code(_reasons(api, "unseal_basis"))["judicial_case"]["article"].startswith(
        "刑事诉讼法"
    )


def test_every_kind_is_listed_without_a_filter(login):
    rows = _reasons(login("analyst"))
    assert {r["kind"] for r in rows} == set(KINDS)
    assert all(r["label_zh"] for r in rows)


def test_an_unknown_kind_is_named_and_roles_without_decisions_are_refused(login):
    resp = login("city").get("/api/v1/reasons", query_string={"kind": "whim"})
    assert resp.status_code == 422 and "kind" in str(resp.get_json()["errors"])
    assert login("auditor").get("/api/v1/reasons").status_code == 403
