"""Keep third-party chatter out of what a person reads; keep it in a log file instead.

MLflow's artefact progress bars and INFO lines, its cloudpickle notice, Alembic's migration lines and
library warnings are useful to an operator debugging a run, not to the reviewer watching the demo.
:func:`third_party_to_log` sends them to a log file for the duration of a block.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

__all__ = ["quiet_mlflow", "third_party_to_log", "NOISY_LOGGERS"]

NOISY_LOGGERS = ("mlflow", "alembic", "bentoml", "evidently", "matplotlib", "urllib3", "httpx", "py.warnings",
                 "sqlalchemy", "lightgbm", "duckdb")


def quiet_mlflow() -> None:
    """No progress bars or INFO chatter from MLflow (set before it is imported, adjusted after)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import mlflow  # noqa: F401  (mlflow configures its loggers on import; adjust them afterwards)

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The cloudpickle notice on every registration is about mlflow's own format, not our input.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)


@contextlib.contextmanager
def third_party_to_log(log_file: Path) -> Iterator[Path]:
    """Inside the block, library warnings and third-party log records go to ``log_file`` only."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    quiet_mlflow()
    saved: list[tuple[logging.Logger, list[logging.Handler], bool, int]] = []
    for name in NOISY_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, list(lg.handlers), lg.propagate, lg.level))
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.addHandler(handler)
        lg.propagate = False
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO if name != "py.warnings" else logging.WARNING)
    logging.captureWarnings(True)
    try:
        # some libraries print straight to stderr (MLflow's "Successfully registered model ..."): keep it too
        with warnings.catch_warnings(), log_file.open("a", encoding="utf-8") as raw, \
                contextlib.redirect_stderr(raw):
            warnings.simplefilter("default")
            yield log_file
    finally:
        logging.captureWarnings(False)
        for lg, handlers, propagate, level in saved:
            lg.removeHandler(handler)
            for h in handlers:
                lg.addHandler(h)
            lg.propagate, lg.level = propagate, level
        handler.close()
