"""Benchmark: one person's online feature vector (``EventStore.online_vector``) on a large world.

In one run on one world: the median and p99 over N people with records at the as-of date of

1. the online path (the batch statement in SQLite over the person's indexed rows, :mod:`features.online`);
2. the reference: the same statement in DuckDB over the whole relations (the online path before issue 16),
   on fewer people (it is slow), for the ratio;

and a check that both give the same vector for every person measured by the reference.

Usage: python benchmarks/bench_online.py --world DIR [--as-of 2025-06-01] [--people 200] [--reference 20]
       [--no-record]   (a world: ``weimeng simulate --people 1000000 --out DIR``)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _record import append_section, machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("WEIMENG_PROGRESS", "0")

import numpy as np  # noqa: E402


def _ms(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", required=True)
    ap.add_argument("--as-of", default="2025-06-01")
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--reference", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from features.store import EventStore

    load_before = os.getloadavg()
    t = time.perf_counter()
    store = EventStore.open(args.world, progress=False)
    t_open = time.perf_counter() - t
    t = time.perf_counter()
    store.online_index()
    t_index = time.perf_counter() - t
    pop = store.population(args.as_of).to_numpy()
    rng = np.random.default_rng(args.seed)
    pids = [str(p) for p in rng.choice(pop, min(args.people, len(pop)), replace=False)]
    online = []
    vectors = {}
    for pid in pids:
        t = time.perf_counter()
        vectors[pid] = store.online_vector(pid, args.as_of)
        online.append(time.perf_counter() - t)
    reference = []
    mismatches = 0
    for pid in pids[: args.reference]:
        t = time.perf_counter()
        ref = store.online_vector_duckdb(pid, args.as_of)
        reference.append(time.perf_counter() - t)
        for name, r in ref.items():
            o = vectors[pid][name]
            if o is None or r is None:
                mismatches += (o is None) != (r is None)
            elif not math.isclose(o, r, rel_tol=1e-12, abs_tol=1e-12):
                mismatches += 1
    n_persons = len(store.table("persons"))
    info = Path(args.world) / "world.json"
    seed = __import__("json").loads(info.read_text(encoding="utf-8")).get("seed") if info.exists() else None
    res = {"persons": n_persons, "events": store.n_events, "population": len(pop), "open_s": t_open,
           "index_s": t_index, "online_p50_ms": _ms(online, 50), "online_p99_ms": _ms(online, 99),
           "reference_p50_ms": _ms(reference, 50), "reference_p99_ms": _ms(reference, 99), "mismatches": mismatches}
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}, flush=True)
    if args.no_record:
        return
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    one, five, fifteen = load_before
    lines = [
        f"## Online feature vector (bench_online.py) — {now}", "",
        f"Machine: {machine()}; load average at the start {one:.1f} / {five:.1f} / {fifteen:.1f}. World: "
        f"{n_persons:,} people (seed {seed}), {store.n_events:,} person-event rows, {len(pop):,} people with records "
        f"at {args.as_of}; store opened in {t_open:.1f} s, online index built in {t_index:.1f} s (once per store, "
        "on first use).", "",
        "| path | people | median ms | p99 ms | x online median |", "| --- | --- | --- | --- | --- |",
        f"| online: batch SQL in SQLite over the person's indexed rows | {len(online)} | {res['online_p50_ms']:.2f} | "
        f"{res['online_p99_ms']:.2f} | 1.0 |",
        f"| reference: the same SQL in DuckDB over the whole relations | {len(reference)} | "
        f"{res['reference_p50_ms']:.1f} | {res['reference_p99_ms']:.1f} | "
        f"{res['reference_p50_ms'] / res['online_p50_ms']:.0f} |", "",
        f"Both paths gave the same vector for the {len(reference)} people measured by both ({mismatches} differing "
        "values). Issue-16 goal: median <= 5 ms on the 1M world.", ""]
    append_section("\n".join(lines))


if __name__ == "__main__":
    main()
