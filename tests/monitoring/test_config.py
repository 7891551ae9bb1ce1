"""Monitoring thresholds: the YAML validated by pydantic models (file, key, value and what is allowed)."""

from __future__ import annotations

import pytest

from monitoring.config import MonitorConfig, load_monitor_config
from monitoring.errors import MonitorConfigError


def test_packaged_thresholds():
    cfg = load_monitor_config(None)
    assert cfg.drift.feature_share == 0.25 and "threat_90d" in cfg.drift.watched_features
    assert isinstance(cfg.drift.watched_features, tuple)
    assert cfg.performance.alerts_per_grid_per_week == 0.5 and cfg.rules.min_hits == 20


def test_a_file_names_only_what_it_changes(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("quality:\n  min_incidents_per_region: 80\nrules:\n", encoding="utf-8")
    cfg = load_monitor_config(p)
    assert cfg.quality.min_incidents_per_region == 80 and cfg.quality.missing_share_rise == 0.15
    assert cfg.rules == MonitorConfig().rules


def test_unknown_section_and_key_name_file_and_allowed(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("drift:\n  feature_shar: 0.3\nqualty: {}\n", encoding="utf-8")
    with pytest.raises(MonitorConfigError) as info:
        load_monitor_config(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: ")
    assert "unknown key(s) ['feature_shar'] in section 'drift'." in msg
    assert "drift.feature_shar: unknown key; allowed: feature_share, max_rows, prediction, watched_features." in msg
    assert "unknown section(s) ['qualty']." in msg
    assert "qualty: unknown section; allowed: drift, performance, quality, rules. Did you mean 'quality'?" in msg


@pytest.mark.parametrize("text, match", [
    ("drift:\n  feature_share: 1.5\n", r"drift.feature_share = 1.5: Input should be less than or equal to 1"),
    ("rules:\n  hit_rate_ratio: 0.5\n", r"rules.hit_rate_ratio = 0.5: Input should be greater than 1"),
    ("drift:\n  prediction: sometimes\n", r"drift.prediction = 'sometimes': Input should be a valid boolean"),
])
def test_bad_values_name_key_value_and_range(tmp_path, text, match):
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(MonitorConfigError, match=match):
        load_monitor_config(p)


def test_missing_file(tmp_path):
    with pytest.raises(MonitorConfigError, match="not found"):
        load_monitor_config(tmp_path / "nope.yaml")
