"""`corrections org import|show|template`: the organisation file, its checks, moves and the
rule that a unit with history is never made inactive."""

from __future__ import annotations

import yaml
from sqlalchemy import select

from corrections.core.cli_identity import machine_id
from corrections.core.db import db
from corrections.org.models import Unit, UnitMove
from tests.support.org import (
    CLI_ACTOR,
    audit_rows,
    district,
    example,
    units_snapshot,
    write,
)


def _import(runner, path, *flags):
    return runner.invoke(args=["org", "import", str(path), *flags])


def _grow(document: dict) -> dict:
    """A new district with an office, a new office in 东城区, one office renamed."""
    document["city"]["districts"].append(
        {
            "code": "329906",
            "name_zh": "新区司法局",
            "offices": [{"code": "32990601", "name_zh": "新区湾头司法所"}],
        }
    )
    dongcheng = district(document, "329901")
    dongcheng["offices"].append({"code": "32990105", "name_zh": "东城区新村司法所"})
    dongcheng["offices"][1]["name_zh"] = "东城区东门街道司法所"
    return document


def test_the_example_file_is_the_demo_city_and_imports_as_no_change(app, runner, tmp_path):
    shown = runner.invoke(args=["org", "template"])
    assert shown.exit_code == 0 and "滨江市司法局" in shown.output
    # Its comments in the operator's language (Chinese by default).
    assert shown.output.startswith("# 组织架构文件，用于 `corrections org import 文件.yaml`。\n")
    assert "# 代码即身份：单位的代码永久不变。" in shown.output
    path = tmp_path / "org.yaml"
    path.write_text(shown.output, encoding="utf-8")
    before, audited = units_snapshot(app), len(audit_rows(app))
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "无更改"  # no changes
    assert units_snapshot(app) == before and len(audit_rows(app)) == audited
    # `org show --yaml` writes the same organisation back.
    again = yaml.safe_load(runner.invoke(args=["org", "show", "--yaml"]).output)
    assert again == yaml.safe_load(shown.output)


def test_import_adds_and_renames_and_a_second_run_changes_and_audits_nothing(app, runner, tmp_path):
    path = write(tmp_path, _grow(example()))
    first = _import(runner, path)
    assert first.exit_code == 0, first.output
    assert "已完成 4 项更改" in first.output  # done: 4 change(s)
    assert "东城区东门司法所 → 东城区东门街道司法所" in first.output
    with app.app_context():
        units = {u.code: u for u in db.session.scalars(select(Unit))}
        assert units["32990601"].parent_id == units["329906"].id
        assert units["32990105"].parent.code == "329901" and units["32990105"].active
        assert units["32990102"].name_zh == "东城区东门街道司法所"
        db.session.remove()
    rows = audit_rows(app, "unit.create", "unit.rename", "org.import")
    # Parents before children, each entry's changes in the file's order, then the summary.
    assert [(r.action, r.detail.get("code")) for r in rows] == [
        ("unit.create", "329906"),
        ("unit.rename", "32990102"),
        ("unit.create", "32990105"),
        ("unit.create", "32990601"),
        ("org.import", None),
    ]
    assert {r.actor_username for r in rows} == {CLI_ACTOR}
    assert rows[-1].detail["create"] == 3 and rows[-1].detail["rename"] == 1

    before, audited = units_snapshot(app), len(audit_rows(app))
    second = _import(runner, path)
    assert second.exit_code == 0, second.output
    assert second.output.splitlines()[-1] == "无更改"
    assert units_snapshot(app) == before
    assert len(audit_rows(app)) == audited


def test_a_dry_run_prints_the_changes_and_changes_nothing(app, runner, tmp_path):
    path = write(tmp_path, _grow(example()))
    before, audited = units_snapshot(app), len(audit_rows(app))
    result = _import(runner, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+ 新建 " in result.output and "32990601" in result.output  # create
    assert "~ 更名 " in result.output  # rename
    assert "演练：发现 4 项更改，未做任何更改" in result.output  # dry run: nothing changed
    assert units_snapshot(app) == before and len(audit_rows(app)) == audited


def test_a_bad_file_names_every_entry_in_chinese_and_english_and_changes_nothing(
    app, runner, tmp_path
):
    document = example()
    dongcheng = district(document, "329901")
    dongcheng["offices"][0]["name_zh"] = "东城区城关街道司法所"  # a valid rename, not applied
    dongcheng["offices"].append({"code": "32990299", "name_zh": "东城区错码司法所"})
    dongcheng["offices"].append({"code": "32990106", "name_zh": "东城区新村"})
    dongcheng["offices"].append({"code": "32990101", "name_zh": "东城区重复司法所"})
    document["city"]["districts"].append(
        {"code": "12345", "name_zh": "错区司法局", "offices": [], "head": "x"}
    )
    document["city"]["districts"].append({"code": "329907"})
    before, audited = units_snapshot(app), len(audit_rows(app))
    result = _import(runner, write(tmp_path, document))
    assert result.exit_code == 1
    out = result.output
    assert (
        "组织架构文件有误，未做任何更改 (the organisation file has errors; nothing changed)" in out
    )
    # Shape problems are reported first (nothing else is checked until the shape is right).
    assert "city.districts[5].head: 未知字段 (unknown field)" in out
    assert "city.districts[6].name_zh: 必填 (required)" in out
    del document["city"]["districts"][6]
    del document["city"]["districts"][5]["head"]
    out = _import(runner, write(tmp_path, document)).output
    assert "city.districts[0].offices[4].code: 新司法所的代码须以所属区县代码 329901 开头" in out
    assert "(a new office's code begins with its district's 329901)" in out
    assert "city.districts[0].offices[5].name_zh: 司法所的名称须含“司法所”" in out
    assert (
        "city.districts[0].offices[6].code: 代码 32990101 重复，另见 city.districts[0].offices[0]"
        in out
    )
    assert "city.districts[5].code: 区县代码为 6 位行政区划代码" in out
    assert units_snapshot(app) == before and len(audit_rows(app)) == audited


def test_an_existing_code_keeps_its_kind_and_the_city_its_code(app, runner, tmp_path):
    document = example()
    document["city"]["districts"].append({"code": "32990101", "name_zh": "假区司法局"})
    out = _import(runner, write(tmp_path, document)).output
    assert "代码 32990101 已是司法所，单位类型不能改" in out
    document = example()
    document["city"]["code"] = "3300"
    out = _import(runner, write(tmp_path, document)).output
    assert "数据库中的市是 3299，文件写的是 3300" in out
    assert _import(runner, tmp_path / "org.yaml").exit_code == 1


def test_an_unreadable_file_is_refused_with_its_name(runner, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("city: [unclosed\n", encoding="utf-8")
    result = _import(runner, path)
    assert result.exit_code == 1 and "broken.yaml: 不是有效的 UTF-8 YAML 文件" in result.output


def test_moving_an_office_keeps_its_persons_and_their_history(app, runner, tmp_path, active, login):
    person = active()  # office 32990101, 东城区 (329901)
    officer = login("officer-dongcheng-1")
    history = officer.get(f"/api/v1/persons/{person['id']}/status-changes").get_json()
    document = example()
    dongcheng, xicheng = district(document, "329901"), district(document, "329902")
    xicheng["offices"].append(dongcheng["offices"].pop(0))

    dry = _import(runner, write(tmp_path, document), "--dry-run")
    assert "> 迁移 " in dry.output and "329901 → 329902，1 名人员随迁" in dry.output  # move
    result = _import(runner, write(tmp_path, document))
    assert result.exit_code == 0, result.output

    # The office, its code, its officer and its person stay together; the district follows.
    seen = officer.get(f"/api/v1/persons/{person['id']}").get_json()
    assert seen["office_code"] == "32990101" and seen["district_code"] == "329902"
    assert officer.get(f"/api/v1/persons/{person['id']}/status-changes").get_json() == history
    assert login("commander-xicheng").get(f"/api/v1/persons/{person['id']}").status_code == 200
    assert login("commander-dongcheng").get(f"/api/v1/persons/{person['id']}").status_code == 404
    with app.app_context():
        move = db.session.scalar(select(UnitMove))
        codes = dict(db.session.execute(select(Unit.id, Unit.code)).all())
        assert (codes[move.unit_id], codes[move.from_parent_id], codes[move.to_parent_id]) == (
            "32990101",
            "329901",
            "329902",
        )
        assert move.moved_by == CLI_ACTOR and move.persons_moved == 1
        db.session.remove()
    (row,) = audit_rows(app, "unit.move")
    # A command-line actor's row carries the machine id too (core/cli_identity.py).
    machine = {"machine": machine_id()} if machine_id() else {}
    assert row.detail == {
        "code": "32990101",
        "from": "329901",
        "to": "329902",
        "persons": 1,
        **machine,
    }
    moves = login("admin").get("/api/v1/admin/units/32990101").get_json()["moves"]
    assert [(m["from_code"], m["to_code"], m["persons_moved"]) for m in moves] == [
        ("329901", "329902", 1)
    ]
    # Importing the same file again moves nothing.
    assert "无更改" in _import(runner, write(tmp_path, document)).output


def test_a_unit_missing_from_the_file_is_reported_and_only_an_unused_one_made_inactive(
    app, runner, tmp_path, login
):
    grown = example()
    district(grown, "329901")["offices"].append({"code": "32990105", "name_zh": "东城区新村司法所"})
    assert _import(runner, write(tmp_path, grown, "grown.yaml")).exit_code == 0
    shrunk = example()
    del district(shrunk, "329901")["offices"][3]  # 32990104 has an officer: history
    path = write(tmp_path, shrunk)

    kept = _import(runner, path)
    assert "? 文件中没有：司法所 32990105 东城区新村司法所 — 无记录，保留" in kept.output
    assert "32990104 东城区梅园司法所 — 有记录，保留\n" in kept.output  # has history: kept
    assert "无更改" in kept.output

    result = _import(runner, path, "--deactivate-missing")
    assert result.exit_code == 0, result.output
    assert "↓ 停用 " in result.output and "32990105" in result.output  # deactivate
    with app.app_context():
        active = dict(db.session.execute(select(Unit.code, Unit.active)).all())
        db.session.remove()
    assert active["32990105"] is False and active["32990104"] is True
    assert "32990105" not in runner.invoke(args=["org", "show", "--yaml"]).output
    assert "(已停用)" in runner.invoke(args=["org", "show"]).output  # inactive
    # An inactive office takes nobody in.
    from tests.factories import person_payload

    refused = login("city").post("/api/v1/persons", json=person_payload(office_code="32990105"))
    assert refused.status_code == 422 and "office_code" in refused.get_json()["errors"]
    # Listed again, it is active again.
    again = _import(runner, tmp_path / "grown.yaml")
    assert "↑ 启用 " in again.output  # activate
    assert [r.detail["code"] for r in audit_rows(app, "unit.deactivate", "unit.activate")] == [
        "32990105",
        "32990105",
    ]


def test_org_show_prints_the_tree_with_codes_chinese_names_and_kinds(runner):
    out = runner.invoke(args=["org", "show"]).output.splitlines()
    assert out[0].startswith("3299") and "滨江市司法局 [市司法局]" in out[0]
    assert out[1].startswith("  329901") and "[区(县)司法局]" in out[1]
    assert out[2].startswith("    32990101") and "东城区城关司法所 [司法所]" in out[2]


def test_a_hostile_yaml_file_is_refused_before_it_expands(runner, tmp_path):
    """Hostile review: 12 KB of nested aliases took 3.9 GB; deep nesting was a traceback;
    YAML turned 0x... and 3299_0198 into numbers that were taken as codes."""
    bomb = tmp_path / "bomb.yaml"
    lines = ["a: &a [" + ",".join(["x"] * 50) + "]"]
    for i in range(1, 12):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 10) + "]")
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused = _import(runner, bomb, "--dry-run")
    assert refused.exit_code != 0 and "aliases" in refused.output
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    refused = _import(runner, deep, "--dry-run")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "city:\n  code: '3299'\n  name_zh: 滨江市司法局\n  districts:\n"
        "    - code: 0x5068D\n      name_zh: 东城区司法局\n",
        encoding="utf-8",
    )
    refused = _import(runner, typo, "--dry-run")
    assert refused.exit_code != 0 and "districts[0].code" in refused.output, refused.output
