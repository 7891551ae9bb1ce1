"""Rich progress bars for long work, shared by every package (Chinese-first labels).

>>> with progress_task("计算特征", total=3, enabled=False) as advance:
...     for _ in range(3):
...         advance(1)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

__all__ = ["progress_task", "progress_enabled"]


def progress_enabled() -> bool:
    """Bars are shown on an interactive terminal, or when WEIMENG_PROGRESS=1 forces them."""
    from common.settings import Settings

    forced = Settings.from_env().progress
    if forced is not None:
        return forced
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_task(description: str, total: float | None,
                  enabled: bool | None = None) -> Iterator[Callable[[float], None]]:
    """Yield ``advance(n)``; a no-op when bars are disabled (tests, CI logs)."""
    if not (progress_enabled() if enabled is None else enabled):
        def skip(n: float = 1) -> None:
            return None

        yield skip
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: float = 1) -> None:
            bar.advance(task, n)

        yield advance
