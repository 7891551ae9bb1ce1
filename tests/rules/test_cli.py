"""`weimeng rules check | backtest | explain`: real behaviour, exit code 2 and no traceback on bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import rules
from weimeng.commands.rules import app

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_check_default_file():
    r = runner.invoke(app, ["check", str(rules.default_ruleset_path())], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    assert "规则文件有效" in r.output and "RD001" in r.output
    # Square brackets in conditions are text, not rich markup.
    assert "event.category in [family, marital]" in r.output


def test_check_bad_file_exit_2(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("version: '1'\nchangelog: [{version: '1', changes: [x]}]\nrules:\n"
                 "  - {id: Z9, version: 1, category: retaliation, level: red, owner: me,\n"
                 "     effective_from: 2024-01-01, condition: {calls_7d: {'=~': 1}}, template: x}\n",
                 encoding="utf-8")
    r = _run("check", f)
    assert r.exit_code == 2
    assert str(f) in r.output and "Z9" in r.output and "'=~'" in r.output
    assert _run("check", tmp_path / "missing.yaml").exit_code == 2


@pytest.fixture(scope="module")
def world(small_world):
    return small_world


def test_backtest_writes_reports(world, tmp_path):
    r = _run("backtest", "--data", world, "--from", "2024-03-01", "--to", "2024-09-01", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    assert "精确率" in r.output and "RT003" in r.output
    written = sorted(p.suffix for p in tmp_path.iterdir())
    assert written == [".csv", ".html", ".md"]


@pytest.mark.parametrize("args, message", [
    (["--from", "2024-13-01", "--to", "2024-09-01"], "日期无效"),
    (["--from", "2024-12-01", "--to", "2024-12-31"], "choose --to"),
    (["--from", "2024-06-01", "--to", "2024-03-01"], "before --from"),
])
def test_backtest_bad_input_exit_2(world, args, message):
    r = _run("backtest", "--data", world, *args)
    assert r.exit_code == 2 and message in r.output, r.output


def test_backtest_missing_data_dir(tmp_path):
    r = _run("backtest", "--data", tmp_path / "nope", "--from", "2024-03-01", "--to", "2024-04-01")
    assert r.exit_code == 2 and "数据目录不存在" in r.output


def test_explain_shows_fired_rules(world, small_store):
    frame = small_store.features("2024-09-01")
    hits = rules.evaluate_batch(rules.load_ruleset(), frame)
    assert len(hits), "the small world should trigger some rule"
    person, rule_id = hits.iloc[0]["person_id"], hits.iloc[0]["rule_id"]
    r = _run("explain", "--data", world, "--person", person, "--as-of", "2024-09-01")
    assert r.exit_code == 0, r.output
    assert rule_id in r.output and hits.iloc[0]["explanation"][:6] in r.output


def test_explain_unknown_person_exit_2(world):
    r = _run("explain", "--data", world, "--person", "NOBODY", "--as-of", "2024-09-01")
    assert r.exit_code == 2 and "未找到人员" in r.output


def test_explain_person_without_hits(world, small_store):
    persons = small_store.table("persons")["person_id"].astype(str)
    frame = small_store.features("2024-09-01")
    flagged = set(rules.evaluate_batch(rules.load_ruleset(), frame)["person_id"])
    quiet = next(p for p in persons if p not in flagged)
    r = _run("explain", "--data", world, "--person", quiet, "--as-of", "2024-09-01")
    assert r.exit_code == 0 and "未命中任何规则" in r.output


def test_help_is_chinese_first():
    r = _run("--help")
    assert r.exit_code == 0 and "规则集" in r.output
