"""Monitoring runs kept in an Evidently workspace: one project, runs stamped with the data window's end and
tagged by kind, and `evidently ui` serving them from the package's own files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import run_drift
from monitoring.workspace import PROJECT_NAME, open_project, record_runs

ENDS = ["2025-07-01", "2025-08-01", "2025-09-01"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("evidently") / "ws"
    for i, end in enumerate(ENDS):
        ref = pd.DataFrame({"calls_30d": rng.poisson(2, 600).astype(float), "threat_90d": rng.normal(size=600)})
        cur = pd.DataFrame({"calls_30d": rng.poisson(2 + 2 * i, 600).astype(float),
                            "threat_90d": rng.normal(size=600)})
        d = run_drift(ref, cur, list(ref.columns), timestamp=end, tags=["feature_drift"])
        window = (pd.Timestamp(end) - pd.DateOffset(months=3), pd.Timestamp(end))
        assert len(record_runs(path, {"feature_drift": d.snapshot, "prediction_drift": None}, window=window)) == 1
    return path


def test_runs_land_in_one_project_stamped_with_the_data_window(workspace):
    ws, project = open_project(workspace)
    assert [p.name for p in ws.list_projects()] == [PROJECT_NAME]        # reopened, not duplicated
    runs = [ws.get_run(project.id, sid) for sid in ws.list_runs(project.id)]
    assert sorted(str(r.timestamp.date()) for r in runs) == ENDS
    assert all(r.tags == ["feature_drift"] and r.name.startswith("特征漂移 ") for r in runs)
    panels = project.dashboard.model().panels
    assert {p.title for p in panels} >= {"特征漂移占比", "预测漂移（冠军模型评分）"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.service
def test_evidently_ui_serves_the_history_offline(workspace):
    """The README's command: the UI's pages and scripts come from the installed package, the project is listed."""
    import requests

    port = _free_port()
    exe = Path(sys.executable).with_name("evidently")
    env = {**os.environ, "DO_NOT_TRACK": "1", "ITERATIVE_DO_NOT_TRACK": "1"}
    proc = subprocess.Popen([str(exe), "ui", "--workspace", str(workspace), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                projects = requests.get(f"{base}/api/projects", timeout=2).json()
                break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        assert [p["name"] for p in projects] == [PROJECT_NAME]
        runs = requests.get(f"{base}/api/projects/{projects[0]['id']}/snapshots", timeout=5).json()
        assert sorted(r["timestamp"][:10] for r in runs) == ENDS
        index = requests.get(base + "/", timeout=5).text
        scripts = [s.split('"')[0] for s in index.split('src="')[1:]]
        assert scripts and all(s.startswith("/static/") for s in scripts)           # nothing from elsewhere
        assert all(requests.get(base + s, timeout=10).status_code == 200 for s in scripts)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
