"""ServingSettings: the serving YAML validated by pydantic, paths filled from common.settings.Settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.scoring.errors import ServingConfigError
from serving.scoring.settings import ServingSettings, default_fusion_path


def test_packaged_defaults_load_and_are_frozen():
    s = ServingSettings.load(None)
    assert (s.model_name, s.model_alias, s.max_batch, s.history_snapshots) == ("weimeng-escalation", "champion",
                                                                               1000, 6)
    assert s.registry_poll_seconds == 60.0 and s.require_model is True and s.auth_required is True
    with pytest.raises(ValidationError, match="frozen"):
        s.max_batch = 5  # type: ignore[misc]


def test_unknown_key_in_a_file_names_file_key_and_allowed_keys(tmp_path):
    p = tmp_path / "serving.yaml"
    p.write_text("max_bach: 50\n", encoding="utf-8")
    with pytest.raises(ServingConfigError) as info:
        ServingSettings.load(p)
    msg = str(info.value)
    assert str(p) in msg and "unknown key(s) ['max_bach']" in msg
    assert "max_bach: unknown key; allowed: alert_sink, audit_sink, auth_required," in msg
    assert "Did you mean 'max_batch'?" in msg
    assert info.value.field == "max_bach"


@pytest.mark.parametrize("override, match", [
    ({"max_batch": 0}, r"max_batch = 0: Input should be greater than or equal to 1"),
    ({"max_batch": 100_001}, r"max_batch = 100001: Input should be less than or equal to 100000"),
    ({"history_snapshots": 37}, r"history_snapshots = 37: Input should be less than or equal to 36"),
    ({"require_model": "maybe"}, r"require_model = 'maybe': Input should be a valid boolean"),
    ({"max_batch": 2.5}, r"max_batch = 2.5"),
])
def test_bad_values_name_key_value_and_what_is_allowed(override, match):
    with pytest.raises(ServingConfigError, match=match):
        ServingSettings.load(None, override)


def test_text_and_command_line_values_are_coerced_as_before(tmp_path):
    p = tmp_path / "serving.yaml"
    p.write_text("model_alias: 2\ndefault_as_of: 2025-06-01\n", encoding="utf-8")
    s = ServingSettings.load(p, {"max_batch": "50", "require_model": "false", "watch_seconds": "0.5", "home": None})
    assert s.model_alias == "2" and s.default_as_of == "2025-06-01"
    assert (s.max_batch, s.require_model, s.watch_seconds) == (50, False, 0.5)
    assert s.home is None  # None overrides are ignored


def test_resolve_fills_paths_under_home_and_checks_files(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path / "env-home"))
    monkeypatch.delenv("WEIMENG_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    s = ServingSettings.load(None).resolve()
    home = (tmp_path / "env-home").resolve()
    assert s.home == str(home) and s.data_dir == str(home / "world")
    assert s.keys_file == str(home / "serving" / "api_keys.json")
    assert s.tracking_uri == f"sqlite:///{home / 'mlflow.db'}" and s.fusion == str(default_fusion_path())
    s = ServingSettings.load(None, {"home": str(tmp_path / "h"), "data_dir": "w2"}).resolve()
    assert s.data_dir == str((tmp_path / "h" / "w2").resolve())
    with pytest.raises(ServingConfigError, match="ruleset file .* does not exist"):
        ServingSettings.load(None, {"ruleset": str(tmp_path / "nope.yaml")}).resolve()
    with pytest.raises(ServingConfigError, match="is not a date"):
        ServingSettings.load(None, {"default_as_of": "soon"}).resolve()


def test_missing_settings_file(tmp_path):
    with pytest.raises(ServingConfigError, match="not found"):
        ServingSettings.load(tmp_path / "nope.yaml")


def test_registry_poll_may_be_zero_but_not_negative():
    assert ServingSettings.load(None, {"registry_poll_seconds": 0}).registry_poll_seconds == 0
    with pytest.raises(ServingConfigError, match=r"registry_poll_seconds: -1.0: must be >= 0"):
        ServingSettings.load(None, {"registry_poll_seconds": -1})
