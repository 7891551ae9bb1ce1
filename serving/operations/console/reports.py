"""Leadership reports: list the HTML files under the configured folder and serve one safely.

Only ``.html`` files inside the folder are served (no ``..``, no symlinks out, no NUL bytes); they are sent with
``Content-Security-Policy: sandbox allow-scripts`` so a report's own scripts run in an opaque origin
and can never read the console's cookies or call its API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from serving.operations.console.errors import ReportNotFound

__all__ = ["Report", "list_reports", "resolve_report", "REPORT_CSP"]

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
