"""ConsoleSettings: a frozen pydantic model; paths from common.settings.Settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.operations.console import ConsoleSettings
from serving.operations.console.errors import ConsoleConfigError


def test_from_env_takes_paths_from_the_settings(tmp_path):
    s = ConsoleSettings.from_env({"WEIMENG_HOME": str(tmp_path)})
    assert s.data_dir == tmp_path / "world" and s.reports_dir == tmp_path / "reports"
    assert s.database_url == f"sqlite:///{(tmp_path / 'weimeng.db').resolve()}"
    assert s.tracking_uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"        # the registry training uses
    s = ConsoleSettings.from_env({"WEIMENG_HOME": str(tmp_path), "WEIMENG_MLFLOW_TRACKING_URI": "postgresql://u@h/ml"})
    assert s.tracking_uri == "postgresql://u@h/ml"
    s = ConsoleSettings.from_env({"WEIMENG_HOME": str(tmp_path), "WEIMENG_DATABASE_URL": "postgresql://u@h/db"},
                                 queue_limit=50)
    assert s.database_url == "postgresql+psycopg://u@h/db" and s.queue_limit == 50


def test_unknown_key_and_ranges(tmp_path):
    with pytest.raises(ConsoleConfigError, match=r"unknown key\(s\) \['idle'\]\. idle: unknown key; allowed: "
                                                 r"cookie_secure, data_dir, database_url, inbox_url, model_name, "
                                                 r"queue_limit,"):
        ConsoleSettings.from_mapping({"idle": 10})
    with pytest.raises(ConsoleConfigError, match="queue_limit = 5001: Input should be less than or equal to 5000"):
        ConsoleSettings.from_mapping({"queue_limit": 5001})
    with pytest.raises(ConsoleConfigError, match="session_idle_minutes = 0: Input should be greater than 0"):
        ConsoleSettings(session_idle_minutes=0)


def test_a_settings_file(tmp_path):
    p = tmp_path / "console.yaml"
    p.write_text("session_idle_minutes: 10\nreports_dir: /srv/reports\ncookie_secure: yes\n", encoding="utf-8")
    s = ConsoleSettings.from_file(p)
    assert s.session_idle_minutes == 10.0 and s.reports_dir == Path("/srv/reports") and s.cookie_secure is True
    p.write_text("cookie_secure: maybe\n", encoding="utf-8")
    with pytest.raises(ConsoleConfigError, match=rf"{p}: cookie_secure = 'maybe'"):
        ConsoleSettings.from_file(p)
