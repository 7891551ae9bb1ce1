"""Benchmark: training time and peak memory for 1M snapshot rows; prediction throughput of the
registered model (loader and MLflow pyfunc) against raw ``Booster.predict`` in the same run.

    python benchmarks/bench_training.py                # 1M rows, appends to benchmarks/RESULTS.md
    python benchmarks/bench_training.py --rows 200000 --no-append

The feature matrix is synthetic (catalog feature names, count-like values, a logistic label at a
~0.5% base rate), so the figures measure the machinery, not model quality. Training runs in a child
process so its peak RSS is measured alone.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _record import append_section, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_snapshots(rows: int, seed: int = 0, snapshots: int = 20):
    import numpy as np
    import pandas as pd

    from features.catalog import FEATURE_NAMES

    rng = np.random.default_rng(seed)
    per = rows // snapshots
    n = per * snapshots
    latent = rng.normal(size=n).astype(np.float32)
    cols = {}
    for i, name in enumerate(FEATURE_NAMES):
        w = 0.6 if i % 5 == 0 else 0.15
        cols[name] = rng.poisson(np.exp(w * latent + (i % 3) * 0.2 - 0.5)).astype(np.float32)
    logit = -6.0 + 1.2 * latent + 0.3 * cols[FEATURE_NAMES[0]]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    dates = pd.date_range("2024-07-01", periods=snapshots, freq="30D")
    frame = pd.DataFrame(cols)
    frame.insert(0, "as_of", np.repeat(dates.to_numpy(), per))
    frame.insert(0, "person_id", np.tile(np.arange(per), snapshots).astype(str))
    frame["label"] = label
    return frame, list(FEATURE_NAMES)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _train_child(rows: int, out_dir: str, q) -> None:
    from training.config import load_config
    from training.fit import fit_model
    from training.snapshots import hash_fraction, time_split

    t0 = time.perf_counter()
    frame, feats = synthetic_snapshots(rows)
    t_data = time.perf_counter() - t0
    rss_data = _rss_mb()
    cfg = load_config(None)
    split = time_split(frame["as_of"].unique(), cfg.split.test_snapshots, cfg.split.validation_snapshots, cfg.gap_days)
    period = split.period_of(frame["as_of"])
    train, val = frame[period == "train"], frame[period == "validation"]
    in_cal = hash_fraction(val["person_id"], 1) < cfg.split.calibration_fraction
    t1, c1 = time.perf_counter(), time.process_time()
    fit = fit_model(train, val[~in_cal], val[in_cal], feats, cfg)
    t_fit, cpu_fit = time.perf_counter() - t1, time.process_time() - c1
    fit.model.metadata.update(operating_threshold=0.5, alerts_per_snapshot=100, catalog_version="bench",
                              ruleset_version=None)
    fit.model.save(out_dir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    q.put({"rows_total": len(frame), "rows_train": len(train), "rows_validation": len(val), "seconds_data": t_data,
           "seconds_fit": t_fit, "cpu_seconds_fit": cpu_fit, "trees": fit.best_iteration, "rss_after_data_mb": rss_data,
           "peak_rss_mb": peak})


def _throughput(fn, n_rows: int, repeat: int = 3) -> tuple[float, float]:
    """(rows per wall-second, rows per CPU-second), best of ``repeat``; CPU time is robust to a busy host."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return n_rows / best, n_rows / max(best_cpu, 1e-9)


def _latency_us(fn, calls: int = 300) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--predict-rows", type=int, default=100_000)
    ap.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args(argv)

    import warnings

    warnings.filterwarnings("ignore")
    import logging

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow  # noqa: F401  (configures its loggers on import; quiet them afterwards)

    logging.getLogger("mlflow").setLevel(logging.ERROR)

    host = machine("at start")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=_train_child, args=(args.rows, str(model_dir), q))
        p.start()
        train = q.get()
        p.join()

        import numpy as np

        from training.model import EscalationModel
        from training.registry import load_registered_model, log_and_register

        model = EscalationModel.load({"booster": model_dir / "booster.txt", "calibrator": model_dir / "calibrator.pkl",
                                      "metadata": model_dir / "metadata.json"})
        frame, feats = synthetic_snapshots(args.predict_rows, seed=1, snapshots=1)
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        t = time.perf_counter()
        log_and_register(model, tracking_uri=uri, experiment="bench", model_name="weimeng-escalation-bench", params={},
                         metrics={}, tags={}, artifacts_dir=model_dir, test_set=frame.head(1000),
                         input_example=frame.head(5))
        t_register = time.perf_counter() - t
        t = time.perf_counter()
        loaded = load_registered_model("challenger", tracking_uri=uri, model_name="weimeng-escalation-bench")
        t_load = time.perf_counter() - t
        import mlflow.pyfunc

        pyf = mlflow.pyfunc.load_model("models:/weimeng-escalation-bench@challenger")
        X = frame[feats].to_numpy(dtype=np.float64)
        Xdf = frame[feats]
        booster = loaded.booster
        assert np.allclose(loaded.predict_proba(Xdf.head(1000))[:, 1],
                           pyf.predict(Xdf.head(1000))["probability"].to_numpy())
        n = len(frame)
        res = {
            "raw Booster.predict (numpy)": (_throughput(lambda: booster.predict(X), n),
                                           _latency_us(lambda: booster.predict(X[:1], num_threads=1))),
            "loader predict_proba (DataFrame, calibrated)": (_throughput(lambda: loaded.predict_proba(Xdf), n),
                                                             _latency_us(lambda: loaded.predict_proba(Xdf.head(1)))),
            "MLflow pyfunc predict (DataFrame)": (_throughput(lambda: pyf.predict(Xdf), n),
                                                  _latency_us(lambda: pyf.predict(Xdf.head(1)))),
        }
        contrib_rows = 2000
        t = time.perf_counter()
        booster.predict(X[:contrib_rows], pred_contrib=True)
        contrib_ms = (time.perf_counter() - t) / contrib_rows * 1000

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_end = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    lines = [
        f"## Training benchmark (`benchmarks/bench_training.py`) — {now}",
        "",
        f"Machine: {host}; load average at the end {load_end}. lightgbm {__import__('lightgbm').__version__}, "
        f"mlflow {__import__('mlflow').__version__}. A load average above the vCPU count means other work shared "
        "the CPUs and the timings are pessimistic.",
        "",
        f"- Snapshot rows: {train['rows_total']:,} ({len(feats)} features, synthetic; train {train['rows_train']:,}, "
        f"validation {train['rows_validation']:,}); data generation {train['seconds_data']:.1f} s.",
        f"- Training (LightGBM with early stopping + calibration, default config, max_depth 6): "
        f"**{train['seconds_fit']:.1f} s** wall ({train['cpu_seconds_fit']:.1f} CPU-seconds over 2 threads), "
        f"{train['trees']} trees.",
        f"- Peak RSS of the training process: **{train['peak_rss_mb']:.0f} MiB** "
        f"(of which {train['rss_after_data_mb']:.0f} MiB after building the frame).",
        f"- Register (MLflow log_model + registry, SQLite): {t_register:.1f} s; load by alias: {t_load:.2f} s.",
        "",
        f"| scorer ({n:,} rows, best of 3) | rows / wall-s | rows / CPU-s | one-row latency (µs) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, ((rps, rps_cpu), lat) in res.items():
        lines.append(f"| {name} | {rps:,.0f} | {rps_cpu:,.0f} | {lat:,.0f} |")
    lines += ["", f"- TreeSHAP `pred_contrib`: {contrib_ms:.2f} ms per row ({contrib_rows} rows).", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_append:
        append_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
