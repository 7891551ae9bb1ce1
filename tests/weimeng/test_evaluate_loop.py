"""`weimeng evaluate-loop`: bad options end in one clear Chinese-first message and exit code 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from weimeng.cli import app


@pytest.mark.parametrize(("args", "field"), [
    (["--seeds", "a,b"], "种子"),
    (["--seeds", ","], "至少需要一个种子"),
    (["--people", "1000"], "15000"),
    (["--accept-share", "1.5"], "0 到 1"),
    (["--loop-days", "10"], "30 到 1080"),
    (["--visits-per-grid-week", "-1"], "--visits-per-grid-week"),
])
def test_bad_options_are_bad_input(args, field):
    res = CliRunner().invoke(app, ["evaluate-loop", *args])
    assert res.exit_code == 2, res.output
    assert field in res.output
    assert "Traceback" not in res.output
