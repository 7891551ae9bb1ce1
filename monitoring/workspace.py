"""Monitoring runs kept in an Evidently workspace, so ``evidently ui`` (local, offline) shows their history.

Each ``weimeng monitor`` run adds its Evidently snapshots (feature drift, prediction drift, incident records)
to one project of a local workspace folder (default ``<home>/evidently``), stamped with the end of the
current window, so the project's dashboard plots drift over the data's own months. Open it with::

    DO_NOT_TRACK=1 .venv/bin/evidently ui --workspace weimeng-data/evidently --port 8700

``evidently ui`` serves its pages from the package's own files (nothing is fetched from the network);
``DO_NOT_TRACK=1`` turns off the usage event its service would otherwise try to send.

>>> # record_runs("weimeng-data/evidently", {"feature_drift": snap}, window=(start, end))
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["PROJECT_NAME", "RUN_LABELS", "record_runs", "open_project", "default_workspace"]

PROJECT_NAME = "未萌 Weimeng 数据与模型监测"
#: The kinds of run a monitor records, tag -> Chinese name (tags filter the dashboard's panels).
RUN_LABELS = {"feature_drift": "特征漂移", "prediction_drift": "预测漂移", "incident_drift": "警情记录漂移"}


def default_workspace() -> Path:
    from common.settings import Settings

    return Settings.from_env().home / "evidently"


def _panels():
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel, text_panel

    return [
        text_panel("未萌 数据与模型监测",
                   "每次 weimeng monitor 运行记录一组快照，时间为当前窗口的结束日期（数据时间）。"),
        line_plot_panel("特征漂移占比", [PanelMetric(legend="漂移特征占比", tags=["feature_drift"],
                                                     metric="evidently:metric_v2:DriftedColumnsCount",
                                                     metric_labels={"value_type": "share"})], size="half"),
        line_plot_panel("漂移特征数", [PanelMetric(legend="漂移特征数", tags=["feature_drift"],
                                                  metric="evidently:metric_v2:DriftedColumnsCount",
                                                  metric_labels={"value_type": "count"})], size="half"),
        line_plot_panel("预测漂移（冠军模型评分）", [PanelMetric(legend="漂移得分", tags=["prediction_drift"],
                                                              metric="evidently:metric_v2:ValueDrift",
                                                              metric_labels={"column": "prediction"})], size="half"),
        line_plot_panel("警情类别构成漂移", [PanelMetric(legend="漂移得分", tags=["incident_drift"],
                                                        metric="evidently:metric_v2:ValueDrift",
                                                        metric_labels={"column": "category"})], size="half"),
    ]


def open_project(path: str | Path):
    """The workspace at ``path`` (created if missing) and its Weimeng project (created with its dashboard)."""
    from evidently.ui.workspace import Workspace

    Path(path).mkdir(parents=True, exist_ok=True)
    ws = Workspace.create(str(path))
    found = [p for p in ws.search_project(PROJECT_NAME) if p.name == PROJECT_NAME]
    if found:
        return ws, found[0]
    project = ws.create_project(PROJECT_NAME, description="weimeng monitor 的每次运行：特征、预测与警情记录漂移。")
    for panel in _panels():
        project.dashboard.add_panel(panel)
    return ws, project


def record_runs(path: str | Path, snapshots: dict, *, window: tuple[pd.Timestamp, pd.Timestamp]) -> list[str]:
    """Add one monitor run's snapshots (tag -> Evidently snapshot; ``None`` skipped) to the workspace.

    Returns the snapshot ids. The snapshots must have been run with ``timestamp`` = the window's end and the
    tag, as :func:`monitoring.drift.run_drift` does when given them.
    """
    ws, project = open_project(path)
    ids = []
    for tag, snap in snapshots.items():
        if snap is None:
            continue
        name = f"{RUN_LABELS.get(tag, tag)} {window[0].date()} 至 {window[1].date()}"
        ref = ws.add_run(project.id, snap, include_data=False, name=name)
        ids.append(str(ref.id))
    return ids
