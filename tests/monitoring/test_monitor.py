"""The monitor flags a shifted world and stays quiet on an unshifted one (same seed, same size)."""

from __future__ import annotations

import json

import pytest

from features.simulate import simulate
from monitoring.config import load_monitor_config
from monitoring.errors import MonitorConfigError
from monitoring.run import ALARM_EXIT_CODE, run_monitor

WINDOWS = dict(start="2025-09-01", end="2025-12-01", reference_start="2025-02-01", reference_end="2025-06-01")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    out = {}
    for scenario in ("none", "labour_surge", "recording_change"):
        simulate(people=30_000, days=730, seed=21, out=root / scenario, progress=False, scenario=scenario)
        out[scenario] = root / scenario
    return out


def _run(worlds, scenario, tmp_path):
    # a 30k-person world has few calls per prefecture: judge regions from 80 calls per window on
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("quality:\n  min_incidents_per_region: 80\n", encoding="utf-8")
    return run_monitor(worlds[scenario], WINDOWS["start"], WINDOWS["end"], tmp_path / scenario,
                       reference_start=WINDOWS["reference_start"], reference_end=WINDOWS["reference_end"],
                       use_model=False, config=cfg)


def test_unshifted_world_stays_quiet(worlds, tmp_path):
    s = _run(worlds, "none", tmp_path)
    assert s.alarms == [] and s.exit_code == 0
    summary = json.loads((tmp_path / "none" / "summary.json").read_text())
    assert summary["status"] == "ok"
    assert (tmp_path / "none" / "feature_drift.html").stat().st_size > 10_000


def test_first_year_reference_stays_quiet_thanks_to_burn_in(worlds, tmp_path):
    # The reference months are the window's first ones: without the simulator's burn-in year the
    # 365-day features were still filling up there and history-length features "drifted" (a third of
    # them). The incident mix itself is clustered (self-exciting calls), so only the features are judged;
    # "days since first call" and "days at residence" still grow with the length of history (no steady state).
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("quality:\n  min_incidents_per_region: 80\n", encoding="utf-8")
    s = run_monitor(worlds["none"], WINDOWS["start"], WINDOWS["end"], tmp_path / "early",
                    reference_start="2024-01-01", reference_end="2024-04-01", use_model=False, config=cfg)
    assert s.feature_drift.share_drifted < 0.25, s.feature_drift.drifted   # the alarm threshold
    assert not [a for a in s.alarms if "特征" in a], s.alarms


def test_labour_surge_is_flagged_as_a_category_shift(worlds, tmp_path):
    s = _run(worlds, "labour_surge", tmp_path)
    assert s.exit_code == ALARM_EXIT_CODE
    assert "category" in s.incident_drift.drifted
    assert {"kind": "incident", "column": "category"} in s.alarm_items
    assert "警情记录漂移：警情类别构成发生变化" in s.alarms          # people read Chinese, not column names


def test_recording_change_is_flagged_as_missing_flags(worlds, tmp_path):
    s = _run(worlds, "recording_change", tmp_path)
    assert s.exit_code == ALARM_EXIT_CODE
    regional = s.quality.regions[s.quality.regions["alarm"]]
    assert set(regional["prefecture_name"]) == {"成都市"}  # the prefecture that changed, and only it
    flagged = set(regional["indicator"]) | {r.indicator for r in s.quality.overall.itertuples() if r.alarm}
    assert {"missing:flag_threat", "missing:flag_violence"} <= flagged
    assert not flagged & {"missing:address_code", "missing:disposition", "late_over_1d"}  # only what changed
    assert any(a.startswith("数据质量：成都市 威胁言语标记缺失率由 ") for a in s.alarms)
    assert not [a for a in s.alarms if "missing:" in a or "flag_" in a]


def test_config_rejects_unknown_keys(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("drift:\n  feature_shar: 0.3\n", encoding="utf-8")
    with pytest.raises(MonitorConfigError, match="unknown key.*feature_shar"):
        load_monitor_config(bad)


def test_backwards_window_is_refused(worlds, tmp_path):
    with pytest.raises(MonitorConfigError, match="before --from"):
        run_monitor(worlds["none"], "2025-09-01", "2025-01-01", tmp_path, use_model=False)


def test_the_monitor_command_speaks_chinese_and_keeps_its_history(worlds, tmp_path):
    """`weimeng monitor` on a shifted world: exit 3, alarms and drifted features in words, the run kept in
    the Evidently workspace it names."""
    from typer.testing import CliRunner

    from weimeng.cli import app

    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("quality:\n  min_incidents_per_region: 80\n", encoding="utf-8")
    ws = tmp_path / "evidently"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [
        "monitor", "--data", str(worlds["recording_change"]), "--from", WINDOWS["start"], "--to", WINDOWS["end"],
        "--reference-from", WINDOWS["reference_start"], "--reference-to", WINDOWS["reference_end"], "--no-model",
        "--config", str(cfg), "--out", str(tmp_path / "out"), "--workspace", str(ws)])
    assert result.exit_code == ALARM_EXIT_CODE, result.output
    assert "威胁言语标记缺失率" in result.output and "missing:flag_threat" not in result.output
    assert f"evidently ui --workspace {ws}" in result.output.replace("\n", "")
    from monitoring.workspace import open_project

    w, project = open_project(ws)
    assert len(w.list_runs(project.id)) == 2            # feature drift and incident records (no model here)
