"""The `weimeng` command follows WEIMENG_HOME for its default folders, and its own checks end in the
common errors (one line, the kind's exit code) even when a command is mounted on a plain ``typer.Typer``."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from weimeng.cli import app as cli_app
from weimeng.commands import serve as serve_cmd


def test_simulate_writes_under_weimeng_home_by_default(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("WEIMENG_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli_app, ["simulate", "--people", "300", "--days", "30", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert (home / "world" / "persons.parquet").exists()
    assert not (tmp_path / "weimeng-data").exists()


def _plain_app() -> typer.Typer:
    a = typer.Typer()
    a.command("serve")(serve_cmd.serve_command)
    a.command("score")(serve_cmd.score_command)
    return a


def test_serve_no_auth_on_a_public_host_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path))
    res = CliRunner().invoke(_plain_app(), ["serve", "--no-auth", "--host", "0.0.0.0"])
    assert res.exit_code == 2, res.output
    assert "错误 / error:" in res.output and "--no-auth" in res.output and "Traceback" not in res.output


def test_score_checks_its_arguments_with_common_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path))
    app = _plain_app()
    out = str(tmp_path / "s.parquet")
    res = CliRunner().invoke(app, ["score", "--data", str(tmp_path), "--as-of", "2024-06-01", "--out", out,
                                   "--explain", "some"])
    assert res.exit_code == 2 and "allowed: flagged, all, none" in res.output, res.output
    res = CliRunner().invoke(app, ["score", "--data", str(tmp_path / "missing"), "--as-of", "2024-06-01",
                                   "--out", out])
    assert res.exit_code == 2 and "数据目录不存在" in res.output, res.output
