"""Benchmark: load + validate + prepare, the DuckDB validator against the pandas one, in the same run.

Each measurement runs in its own process (peak memory = that process's max RSS):

1. a simulated world of N people over two years (default 1,000,000): ``EventStore.open`` with
   ``engine="pandas"`` (the original path) and ``engine="duckdb"`` (validation in SQL over the Parquet files);
2. optionally (``--incidents``, 0 to skip) the synthetic load of bench_features.py (that many incidents,
   two parties each, on the world's people), both engines again.

The machine is shared: the load average is recorded with the figures, and absolute times are noisy; the
ratio of the two engines measured in the same run is the steadier figure.

Usage: python benchmarks/bench_load.py [--people 1000000] [--incidents 0] [--world DIR]
       [--synthetic-engines pandas,duckdb] [--seed 1] [--load-seed 5] [--no-record]
       python benchmarks/bench_load.py --profile DIR [--top 15]

``--profile DIR`` profiles the DuckDB load of one data folder statement by statement instead (nothing is
recorded): each SQL statement's CPU-seconds (the process's user + system time, the figure a busy shared
machine inflates least) and wall time, the largest first, then the whole load's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _record import append_section, machine  # noqa: E402
from bench_features import _stage, synthetic_load  # noqa: E402

_OPEN = """
import os
from features.store import EventStore
load1 = os.getloadavg()[0]
t = time.perf_counter()
store = EventStore.open({path!r}, quarantine_dir={qdir!r}, progress=False, engine={engine!r})
res = dict(seconds=round(time.perf_counter() - t, 1), events=store.n_events,
           quarantined=len(store.report.quarantine), load_before=round(load1, 1),
           load_after=round(os.getloadavg()[0], 1))
"""

# Every statement the load sends to DuckDB passes through the connection's execute(): a proxy around the
# connection times each one (CPU of the whole process, so DuckDB's threads count).
_PROFILE = """
import os
import duckdb
stats = []
class _Timed:
    def __init__(self, con):
        self._con = con
    def execute(self, sql, *args, **kwargs):
        c, w = cpu(), time.perf_counter()
        out = self._con.execute(sql, *args, **kwargs)
        stats.append((round(cpu() - c, 2), round(time.perf_counter() - w, 2), " ".join(sql.split())[:100]))
        return out
    def __getattr__(self, name):
        return getattr(self._con, name)
_connect = duckdb.connect
duckdb.connect = lambda *a, **k: _Timed(_connect(*a, **k))
from features.store import EventStore
load1 = os.getloadavg()[0]
c, t = cpu(), time.perf_counter()
store = EventStore.open({path!r}, quarantine_dir={qdir!r}, progress=False)
res = dict(seconds=round(time.perf_counter() - t, 1), cpu=round(cpu() - c, 1), events=store.n_events,
           quarantined=len(store.report.quarantine), top=sorted(stats, reverse=True)[:{top}],
           load_before=round(load1, 1), load_after=round(os.getloadavg()[0], 1))
"""


def _profile(path: Path, top: int) -> None:
    r = _stage(_PROFILE.format(path=str(path), qdir=tempfile.mkdtemp(prefix="weimeng-bench-load-q-"), top=top))
    print("| CPU-s | wall s | statement |\n| --- | --- | --- |")
    for cpu_s, wall, sql in r["top"]:
        print(f"| {cpu_s} | {wall} | `{sql}` |")
    print(f"\nwhole load: {r['seconds']} s wall, {r['cpu']} CPU-s, {r['events']:,} person-event rows, "
          f"{r['quarantined']:,} quarantined, peak RSS {r['max_rss_mb']} MB, "
          f"load average {r['load_before']} / {r['load_after']} (before / after)")


def _pair(path: Path, label: str, rows: list, engines: tuple[str, ...] = ("pandas", "duckdb")) -> None:
    out = {}
    for engine in engines:
        out[engine] = _stage(_OPEN.format(path=str(path), qdir=str(path / f"q_{engine}"), engine=engine))
    if len(out) < 2:
        r = out[engines[0]]
        rows.append((f"{label}: load + validate + prepare, {engines[0]} only", f"{r['seconds']} s",
                     f"{r['events']:,} person-event rows, {r['quarantined']:,} quarantined",
                     r["max_rss_mb"], f"{r['load_before']} / {r['load_after']}"))
        return
    assert out["pandas"]["events"] == out["duckdb"]["events"]
    assert out["pandas"]["quarantined"] == out["duckdb"]["quarantined"]
    ratio = out["pandas"]["seconds"] / max(out["duckdb"]["seconds"], 0.05)
    mem = out["pandas"]["max_rss_mb"] / max(out["duckdb"]["max_rss_mb"], 1)
    for engine in ("pandas", "duckdb"):
        r = out[engine]
        rows.append((f"{label}: load + validate + prepare, {engine}", f"{r['seconds']} s",
                     f"{r['events']:,} person-event rows, {r['quarantined']:,} quarantined",
                     r["max_rss_mb"], f"{r['load_before']} / {r['load_after']}"))
    rows.append((f"{label}: pandas / duckdb", f"{ratio:.2f}x time", "", f"{mem:.2f}x memory", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--incidents", type=int, default=0)
    ap.add_argument("--world", help="reuse a simulated world in this folder (simulated there if empty)")
    ap.add_argument("--synthetic-engines", default="pandas,duckdb",
                    help="engines for the synthetic load ('duckdb' alone where the pandas path would not fit)")
    ap.add_argument("--seed", type=int, default=1, help="the simulated world's seed")
    ap.add_argument("--load-seed", type=int, default=5, help="the synthetic load's random seed")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--profile", metavar="DIR", help="profile the DuckDB load of this data folder, statement by "
                                                     "statement (nothing else runs, nothing is recorded)")
    ap.add_argument("--top", type=int, default=15, help="with --profile: how many statements to show")
    args = ap.parse_args()
    if args.profile:
        _profile(Path(args.profile), args.top)
        return
    work = Path(tempfile.mkdtemp(prefix="weimeng-bench-load-"))
    world = Path(args.world) if args.world else work / "world"
    rows: list = []
    if args.people and not (world / "persons.parquet").exists():
        sim = _stage(f"""
from features.simulate import simulate
t = time.perf_counter()
s = simulate(people={args.people}, days=730, seed={args.seed}, out={str(world)!r}, progress=False)
res = dict(seconds=round(time.perf_counter() - t, 1), incidents=s['tables']['incidents'])
""")
        rows.append((f"simulate {args.people:,} people x 730 days", f"{sim['seconds']} s",
                     f"{sim['incidents']:,} incidents", sim["max_rss_mb"], ""))
    if args.people:
        _pair(world, f"world {args.people:,} people", rows)
    if args.incidents:
        load = synthetic_load(world, work / "load", args.incidents, args.load_seed, reuse=False)
        _pair(load, f"synthetic {args.incidents:,} incidents", rows, tuple(args.synthetic_engines.split(",")))

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    one, five, fifteen = os.getloadavg()
    lines = [f"## Load + validate + prepare: DuckDB validator vs pandas (bench_load.py; {when}; {machine()})", "",
             "The machine is shared and was busy: absolute times are noisy (see the load averages, 1-minute, "
             "before / after each measurement); the ratio measured in the same run is the steadier figure.", "",
             "| what | time | size | peak RSS (MB) | load avg before / after |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    lines.append(f"\nLoad average at the end: {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on 2 vCPUs.")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        append_section(text)


if __name__ == "__main__":
    main()
