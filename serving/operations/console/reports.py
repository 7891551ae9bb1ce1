"""Leadership reports: list the HTML files under the configured folder and serve one safely; the station
scorecard (派出所一网考) of the last month of data for the viewer's jurisdiction, computed by the same module
as the leadership report's (:mod:`serving.operations.alerts.scorecard`).

Only ``.html`` files inside the folder are served (no ``..``, no symlinks out, no NUL bytes); they are sent with
``Content-Security-Policy: sandbox allow-scripts`` so a report's own scripts run in an opaque origin
and can never read the console's cookies or call its API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from serving.operations.console.errors import ReportNotFound

__all__ = ["Report", "list_reports", "resolve_report", "REPORT_CSP", "station_card", "StationCard"]

REPORT_CSP = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:; frame-ancestors 'self'"


@dataclass(frozen=True)
class Report:
    path: str          # relative, with forward slashes
    title: str
    size: int
    modified: datetime


def list_reports(folder: Path | None) -> list[Report]:
    if folder is None or not Path(folder).is_dir():
        return []
    root = Path(folder).resolve()
    out = []
    for p in sorted(root.rglob("*.html")):
        rp = p.resolve()
        if not rp.is_file() or root not in rp.parents:
            continue
        st = rp.stat()
        out.append(Report(p.relative_to(root).as_posix(), p.stem.replace("_", " "), st.st_size,
                          datetime.fromtimestamp(st.st_mtime, UTC)))
    return sorted(out, key=lambda r: r.modified, reverse=True)


def resolve_report(folder: Path | None, relpath: str) -> Path:
    if folder is None:
        raise ReportNotFound("未配置报告目录 / no reports folder is configured (ConsoleSettings.reports_dir).")
    root = Path(folder).resolve()
    if "\x00" in relpath:  # no file name holds a NUL byte (and the OS would refuse it)
        raise ReportNotFound(f"报告不存在 / report {relpath!r} not found under {root}.")
    target = (root / relpath).resolve()
    if root not in target.parents or target.suffix.lower() != ".html" or not target.is_file():
        raise ReportNotFound(f"报告不存在 / report {relpath!r} not found under {root}.")
    return target


@dataclass(frozen=True)
class StationCard:
    start: str                       # data dates, inclusive
    end: str
    headers: list[str]
    rows: list[list[str]]
    total: int                       # stations in the viewer's jurisdiction with any figure
    method: list[str]


def station_card(ctx, viewer, limit: int = 200) -> StationCard | None:
    """The scorecard of the month of data that ends with the records, limited to ``viewer``'s jurisdiction."""
    from serving.operations.alerts.scorecard import last_month, station_scorecard

    index = ctx.world.station_index()
    store = ctx.world.store()
    period = last_month(store) if store is not None else None
    if index is None or period is None:
        return None
    card = station_scorecard(ctx.engine, index, *period, scope=[viewer.jurisdiction])
    shown = card.display()
    end = (period[1] - pd.Timedelta(days=1)).date()
    return StationCard(str(period[0].date()), str(end), list(shown.columns),
                       [[str(v) for v in row] for row in shown.head(limit).itertuples(index=False)], len(shown),
                       card.method)
