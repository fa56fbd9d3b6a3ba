"""What an operator reads at a terminal is Chinese unless they ask for English (issue 16 item
7): each command group's output, click's own usage errors and help, the entrypoint's lines,
and the texts of a job run the command centre shows (core/i18n.py, cli_locale)."""

from __future__ import annotations

import gettext
import sys
from datetime import timedelta
from pathlib import Path

import click
import pytest
import yaml
from babel.messages.extract import extract_from_dir

from corrections.core import i18n, library_messages
from corrections.core.db import db
from corrections.core.i18n import cli_column, cli_locale
from corrections.scheduler.models import JobRun
from tests.conftest import TEST_NOW
from tests.support.caseload import caseload_row, write_csv

# The operator asks for English the two ways README, Languages names.
ENGLISH = {"CORRECTIONS_LANG": "en"}
ENGLISH_LOCALE = {"CORRECTIONS_LANG": None, "LANG": "en_US.UTF-8", "LC_ALL": None}


# --- which language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "language"),
    [
        ({}, "zh"),
        ({"LANG": "C.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "en"}, "en"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}, "zh"),
        ({"CORRECTIONS_LANG": "zh", "LANG": "en_US.UTF-8"}, "zh"),
        ({"CORRECTIONS_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"CORRECTIONS_LANG": "", "LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "english-ish"}, "zh"),  # not a locale that names English
    ],
)
def test_the_operators_language_comes_from_corrections_lang_then_the_locale(
    monkeypatch, environment, language
):
    for name in ("CORRECTIONS_LANG", *i18n.LOCALE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert cli_locale() == language


def test_a_table_column_counts_a_chinese_character_as_two():
    assert cli_column("用户名", 8) == "用户名  "
    assert cli_column("user", 8) == "user    "
    assert cli_column("太长的一个名称", 4) == "太长的一个名称"


# --- click's own messages ---------------------------------------------------------------------


def _clicks_messages() -> set[str]:
    """Every message click's modules pass to gettext (singular and plural forms)."""
    found = set()
    folder = str(Path(click.__file__).parent)
    keywords = {"_": None, "ngettext": (1, 2)}
    for _f, _l, message, _c, _x in extract_from_dir(folder, keywords=keywords):
        found.update(message if isinstance(message, tuple) else (message,))
    return found


def test_clicks_messages_are_declared_and_translated():
    declared = set(library_messages.CLICK_MESSAGES)
    assert not _clicks_messages() - declared, "declare them in core/library_messages.py"
    table = i18n.catalogue()
    assert all(table.get(m) for m in declared)


def test_no_click_module_is_left_on_the_standard_librarys_gettext(app):
    # The app's command line installs the catalogue (corrections/cli.py).
    left = [
        name
        for name, module in sys.modules.items()
        if (name == "click" or name.startswith("click."))
        and (
            getattr(module, "_", None) is gettext.gettext
            or getattr(module, "ngettext", None) is gettext.ngettext
        )
    ]
    assert not left


def test_a_missing_argument_is_a_chinese_usage_error(runner):
    result = runner.invoke(args=["users", "enable"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "用法： corrections users enable [OPTIONS] USERNAME",
        "运行 'corrections users enable --help' 查看帮助。",
        "",
        "错误：缺少参数 'USERNAME'.",
    ]
    result = runner.invoke(args=["users", "enable"], env=ENGLISH_LOCALE)
    assert result.output.splitlines() == [
        "Usage: corrections users enable [OPTIONS] USERNAME",
        "Try 'corrections users enable --help' for help.",
        "",
        "Error: Missing argument 'USERNAME'.",
    ]


def test_clicks_errors_are_chinese_by_default_and_english_when_asked(runner):
    cases = [
        (["users", "no-such"], "错误：没有命令 'no-such'。", "Error: No such command 'no-such'."),
        (
            ["users", "list", "--bogus"],
            "错误：没有选项 '--bogus'。",
            "Error: No such option '--bogus'.",
        ),
        (
            ["keys", "rotate", "--purpose", "bogus"],
            "错误：'--purpose' 的值无效：'bogus' 不是以下之一：'field', 'index', 'audit'。",
            "Error: Invalid value for '--purpose': 'bogus' is not one of 'field', 'index', "
            "'audit'.",
        ),
        (
            ["users", "create", "someone", "--unit", "3299"],
            "错误：缺少选项 '--role'. 可选：",
            "Error: Missing option '--role'. Choose from:",
        ),
    ]
    for args, chinese, english in cases:
        result = runner.invoke(args=args)
        assert result.exit_code == 2
        assert chinese in result.output.splitlines(), result.output
        assert "用法： " in result.output and "查看帮助。" in result.output
        for env in (ENGLISH, ENGLISH_LOCALE):
            result = runner.invoke(args=args, env=env)
            assert english in result.output.splitlines(), result.output
            assert "Usage: " in result.output and "for help." in result.output


def test_help_has_chinese_headings(runner):
    # (click builds a command's --help option once, in the language of its first use.)
    result = runner.invoke(args=["audit", "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("用法： ")
    assert "\n选项:\n" in result.output and "\n命令:\n" in result.output
    assert "显示本帮助并退出。" in result.output


def test_help_has_english_headings_when_asked(runner):
    result = runner.invoke(args=["backup", "--help"], env=ENGLISH)
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert "\nOptions:\n" in result.output and "\nCommands:\n" in result.output


# --- each group's output ----------------------------------------------------------------------


def _both(runner, args, **kw):
    """The command's output by default and with English asked for."""
    chinese = runner.invoke(args=args, **kw)
    english = runner.invoke(args=args, env=ENGLISH, **kw)
    assert chinese.exit_code == english.exit_code, chinese.output + english.output
    return chinese, english


def test_users_list_has_chinese_headings(runner):
    chinese, english = _both(runner, ["users", "list"])
    assert chinese.output.splitlines()[0].split() == [
        "用户名",
        "角色",
        "单位代码",
        "启用",
        "单位名称",
    ]
    assert english.output.splitlines()[0].split("  ")[0] == "username"
    assert " unit code " in english.output.splitlines()[0]
    officer = next(x for x in chinese.output.splitlines() if x.startswith("officer-dongcheng-1 "))
    assert officer.split()[3:5] == ["是", "东城区城关司法所"]
    # The columns line up at a terminal, where a Chinese character is two columns wide.
    heading = chinese.output.splitlines()[0]
    before = heading[: heading.index("单位代码")]
    assert len(before) + sum(1 for c in before if c > "\u2e80") == officer.index("32990101")


def test_a_users_error_is_chinese_then_english_or_english_alone(runner):
    chinese, english = _both(runner, ["users", "disable", "nobody-here"])
    assert chinese.exit_code == 1
    assert chinese.output == "错误：没有用户 nobody-here (no user nobody-here)\n"
    assert english.output == "Error: no user nobody-here\n"


def test_audit_verify_says_intact_in_chinese(runner):
    runner.invoke(args=["audit", "seal"])
    chinese, english = _both(runner, ["audit", "verify"])
    assert chinese.exit_code == 0
    assert chinese.output.splitlines()[-1].startswith("审计记录完好：已对照 ")
    assert english.output.splitlines()[-1].startswith("audit trail intact: ")


def test_audit_seal_says_how_many_rows_in_chinese(runner):
    chinese, english = _both(runner, ["audit", "seal"])
    assert chinese.output.startswith("已将 ") and chinese.output.endswith(" 行审计记录上链\n")
    assert english.output.startswith("sealed ") and english.output.endswith(" audit rows\n")


def test_keys_status_is_in_chinese(runner):
    chinese, english = _both(runner, ["keys", "status"])
    assert chinese.exit_code == 0
    assert chinese.output.startswith("field：现用 ")
    assert "；全部密钥 " in chinese.output.splitlines()[0]
    assert english.output.startswith("field: active ")


def test_org_import_prints_chinese_only(runner, tmp_path):
    shown = runner.invoke(args=["org", "show", "--yaml"])
    path = tmp_path / "org.yaml"
    path.write_text(shown.output, encoding="utf-8")
    chinese, english = _both(runner, ["org", "import", str(path), "--dry-run"])
    assert chinese.exit_code == 0
    assert chinese.output.splitlines()[0].startswith("org.yaml：共 ")
    assert chinese.output.splitlines()[-1] == "演练：发现 0 项更改，未做任何更改"
    assert not any(c.isascii() and c.isalpha() for c in chinese.output.replace("org.yaml", ""))
    assert english.output.splitlines()[-1] == "dry run: 0 change(s) found, nothing changed"


def test_org_import_names_a_new_office_and_its_kind_in_chinese(runner, tmp_path):
    document = yaml.safe_load(runner.invoke(args=["org", "show", "--yaml"]).output)
    district = document["city"]["districts"][0]
    district["offices"].append({"code": district["code"] + "99", "name_zh": "东城区新设司法所"})
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    chinese, english = _both(runner, ["org", "import", str(path), "--dry-run"])
    added = next(x for x in chinese.output.splitlines() if x.startswith("+ "))
    assert added.split()[1:4] == ["新建", "司法所", district["code"] + "99"]
    assert added.endswith(f"东城区新设司法所  （上级 {district['code']}）")
    added = next(x for x in english.output.splitlines() if x.startswith("+ "))
    assert added.split()[1:3] == ["create", "office"]


def test_persons_import_summary_and_progress_are_chinese(runner, tmp_path):
    path = write_csv(tmp_path / "名单.csv", [caseload_row()])
    chinese = runner.invoke(args=["persons", "import", str(path), "--dry-run"])
    assert chinese.exit_code == 0, chinese.output
    assert chinese.stderr.startswith("名单.csv：csv，1 行，sha256 ")
    assert "正在检查" in chinese.stderr  # a dry run checks
    assert chinese.stdout.splitlines()[-1] == (
        "试运行：将导入 1 人（其中在矫 0，沿用等级 0），未更改 0 行；未保存"
    )
    english = runner.invoke(args=["persons", "import", str(path), "--dry-run"], env=ENGLISH)
    assert english.stderr.startswith("名单.csv: csv, 1 rows, sha256 ")
    assert "checking" in english.stderr
    assert english.stdout.splitlines()[-1] == (
        "dry run: would import 1 persons (0 active, 0 with their grade), 0 rows unchanged; "
        "nothing stored"
    )


def test_backup_prune_and_verify_speak_chinese(app, runner, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    chinese, english = _both(runner, ["backup", "prune", "--dry-run"])
    assert chinese.output == "保留 0 个；将删除 0 个\n"
    assert english.output == "kept 0; would delete 0\n"
    chinese, english = _both(runner, ["backup", "verify", str(tmp_path)])
    assert chinese.exit_code == 1
    assert chinese.output == f"错误：{tmp_path} 下没有备份 (no backup under {tmp_path})\n"
    assert english.output == f"Error: no backup under {tmp_path}\n"
    (tmp_path / "manifest.json").write_text('{"format": "x"}', encoding="utf-8")
    chinese, english = _both(runner, ["backup", "verify", str(tmp_path)])
    assert chinese.exit_code == 1
    assert chinese.output.splitlines() == [
        f"备份 {tmp_path} 未通过校验：",
        "  manifest: 未知的格式 'x'（应为 corrections-backup/1）",
        "  signature: 备份清单没有签名",
    ]
    assert english.output.splitlines()[1:] == [
        "  manifest: unknown format 'x' (expected corrections-backup/1)",
        "  signature: the manifest is not signed",
    ]


# --- a job run's texts in the command centre --------------------------------------------------


def test_a_failed_runs_errors_reach_the_command_centre_in_its_language(app, login):
    with app.app_context():
        db.session.add(
            JobRun(
                job="backup_drill",
                holder="test",
                started_at=TEST_NOW - timedelta(hours=1),
                finished_at=TEST_NOW - timedelta(hours=1),
                status="failed",
                counts={},
                errors={
                    "signature": "the manifest is not signed",
                    "checksum": "database.dump is missing; the manifest is not signed",
                },
                error="BackupDrillFailed: checksum, signature",
            )
        )
        db.session.commit()
        db.session.remove()
    city = login("city")
    job = next(
        j for j in city.get("/api/v1/system/jobs").get_json()["jobs"] if j["name"] == "backup_drill"
    )
    assert job["last_failure"]["errors"] == {
        "signature": "备份清单没有签名",
        "checksum": "database.dump 缺失; 备份清单没有签名",
    }
    english = city.get("/api/v1/system/jobs", headers={"Accept-Language": "en"}).get_json()
    job = next(j for j in english["jobs"] if j["name"] == "backup_drill")
    assert job["last_failure"]["errors"]["signature"] == "the manifest is not signed"
    assert job["last_failure"]["error"] == "BackupDrillFailed: checksum, signature"


def test_the_deep_health_checks_hidden_holder_is_said_in_chinese(app, client):
    from corrections.scheduler import service as scheduler

    with app.app_context():
        scheduler.acquire_lease(
            db.session, holder="scheduler-host:1", ttl=timedelta(seconds=90), now=TEST_NOW
        )
        db.session.commit()
        db.session.remove()
    holder = client.get("/healthz?deep=1").get_json()["checks"]["scheduler"]["holder"]
    assert holder == "（已隐藏：须以有 system:read 权限的账号登录）"
    body = client.get("/healthz?deep=1", headers={"Accept-Language": "en"}).get_json()
    assert body["checks"]["scheduler"]["holder"] == "(hidden: sign in with system:read)"
