"""Benchmark: approved alerts delivered to the local inbox per second, with 1, 2 and 4 push workers.

Builds a small simulated world for routing, ingests and approves ``--alerts`` alerts (about 3-7
recipients each) into a template PostgreSQL database, then for each worker count copies the template
(``CREATE DATABASE ... TEMPLATE``), starts that many ``push-worker --drain`` subprocesses and measures
the time from the first delivery to the last (interpreter start-up excluded; it is reported apart).
A one-worker SQLite run is recorded for reference. Appends a section to benchmarks/RESULTS.md.

Needs PostgreSQL at 127.0.0.1:5432 (trust auth, database ``test``) and psycopg.

Usage: python benchmarks/bench_push.py [--alerts 2000] [--workers 1,2,4] [--batch-size 20] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _record import append_section  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"


def _scored(pid: str, i: int):
    from common.records import Explanation, Factor, ScoredPerson

    t = datetime(2026, 11, 1)
    expl = Explanation(summary="近期多次报警", factors=(Factor("calls_30d", "近30天报警次数", 3.0, 0.5, "up",
                                                                  "近30天报警3次，风险上升"),))
    return ScoredPerson(person_id=pid, as_of=t, probability=0.2 + (i % 70) / 100,
                        level=("yellow", "orange", "red")[i % 3],
                        categories=("repeat_dispute",), explanation=expl, ruleset_version="bench",
                        model_version="bench", catalog_version="bench", snapshot_time=t)


def populate(url: str, n_alerts: int, directory, people) -> tuple[int, float]:
    from serving.operations.alerts import AlertStore
    from serving.operations.alerts.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    store = AlertStore(engine, directory=directory)
    t0 = time.perf_counter()
    results = store.ingest([_scored(p, i) for i, p in enumerate(people[:n_alerts])])
    for r in results:
        store.approve(r.alert_id, by="bench", reason="benchmark")
    dt = time.perf_counter() - t0
    with engine.connect() as conn:
        n = conn.scalar(sa.text("SELECT COUNT(*) FROM deliveries"))
    engine.dispose()
    return int(n), dt


def run_workers(url: str, k: int, batch_size: int, total: int) -> dict:
    from serving.operations.alerts.db import make_engine

    engine = make_engine(url)
    env = {key: v for key, v in os.environ.items() if not key.startswith("WEIMENG_")}
    cmd = [sys.executable, "-m", "weimeng.commands.alerts", "push-worker", "--url", url, "--drain",
           "--batch-size", str(batch_size), "--poll", "0.01"]
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd + ["--worker-id", f"bench-{i}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for i in range(k)]
    first: float | None = None
    last: float | None = None
    with engine.connect() as conn:
        while True:
            n = conn.scalar(sa.text("SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'"))
            conn.commit()
            now = time.perf_counter()
            if n and first is None:
                first = now
            if n >= total:
                last = now
                break
            if all(p.poll() is not None for p in procs):
                err = procs[0].stderr.read() if procs[0].stderr is not None else b""
                raise RuntimeError("workers exited early: " + err.decode()[-2000:])
            time.sleep(0.005)
        items = conn.scalar(sa.text("SELECT COUNT(*) FROM inbox_items"))
        by_worker = sa.text("SELECT worker_id, COUNT(*) FROM deliveries GROUP BY worker_id")
        per_worker: dict[str, int] = dict(conn.execute(by_worker).all())
        alerts = conn.scalar(sa.text("SELECT COUNT(*) FROM alerts WHERE state = 'delivered'"))
    for p in procs:
        p.wait(60)
    engine.dispose()
    assert items == total, f"{items} inbox items for {total} deliveries"
    assert first is not None and last is not None, "the loop ends only once every delivery is in"
    active = last - first
    return {"workers": k, "deliveries": total, "alerts": alerts, "seconds": round(active, 3),
            "startup_s": round(first - started, 2), "deliveries_per_s": round(total / active),
            "alerts_per_s": round(alerts / active), "per_worker": sorted(per_worker.values(), reverse=True)}


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--people", type=int, default=20000)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    import psycopg

    from features.simulate import simulate
    from features.store import EventStore
    from serving.operations.alerts import Directory

    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench_push_"))
    simulate(people=args.people, days=60, seed=5, out=tmp / "world", progress=False)
    es = EventStore.open(tmp / "world", progress=False)
    directory = Directory.from_event_store(es)
    people = [p for p in es.table("persons")["person_id"] if _routable(directory, p)]

    admin = psycopg.connect(ADMIN, autocommit=True)
    tag = secrets.token_hex(3)
    template = f"weimeng_bench_push_tmpl_{tag}"
    admin.execute(f'CREATE DATABASE "{template}"')
    created = [template]
    res: dict = {"alerts": args.alerts, "batch_size": args.batch_size, "load_average_at_start": round(load, 2),
                 "runs": []}
    try:
        total, dt = populate(f"postgresql+psycopg://postgres@127.0.0.1:5432/{template}", args.alerts, directory, people)
        res["deliveries"] = total
        res["approve_alerts_per_s"] = round(args.alerts / dt)
        print(f"ingested + approved {args.alerts:,} alerts ({total:,} deliveries) in {dt:.1f} s "
              f"= {args.alerts / dt:,.0f} alerts/s (ingest + route + outbox)", flush=True)
        for k in [int(x) for x in args.workers.split(",")]:
            name = f"weimeng_bench_push_{k}_{tag}"
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            created.append(name)
            r = run_workers(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", k, args.batch_size, total)
            res["runs"].append(r)
            print(f"PostgreSQL, {k} worker(s): {r['alerts_per_s']:,} alerts/s, {r['deliveries_per_s']:,} deliveries/s "
                  f"({r['deliveries']:,} in {r['seconds']} s; per worker {r['per_worker']}; "
                  f"start-up {r['startup_s']} s)",
                  flush=True)
        sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
        populate(sqlite_url, args.alerts, directory, people)
        r = run_workers(sqlite_url, 1, args.batch_size, total)
        res["sqlite"] = r
        print(f"SQLite, 1 worker: {r['alerts_per_s']:,} alerts/s, {r['deliveries_per_s']:,} deliveries/s", flush=True)
    finally:
        for name in reversed(created):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    if not args.no_record:
        record(res)
    return res


def _routable(directory, pid) -> bool:
    try:
        return bool(directory.route(pid).recipients)
    except Exception:
        return False


def record(res: dict) -> None:
    machine = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-tAc", "SHOW server_version"],
                        capture_output=True, text=True).stdout.strip() or "?"
    lines = [
        "", f"## Push delivery to the local inbox ({when}, {machine}, {nproc} CPUs, "
        f"Python {platform.python_version()}, "
        f"PostgreSQL {pg})", "",
        f"`python benchmarks/bench_push.py --alerts {res['alerts']}` — {res['alerts']:,} approved alerts, "
        f"{res['deliveries']:,} deliveries (one per recipient: grid workers, cadres, community officer of the hukou "
        f"and residence grids), `push-worker --drain --batch-size {res['batch_size']}` subprocesses on one "
        f"database; time from the first delivery to the last (worker start-up excluded). 1-minute load average "
        f"at start {res['load_average_at_start']} (the machine is shared; PostgreSQL runs on the same 2 CPUs).", "",
        "| backend | workers | alerts/s | deliveries/s | seconds | rows per worker |", "|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        lines.append(f"| PostgreSQL | {r['workers']} | {r['alerts_per_s']:,} | {r['deliveries_per_s']:,} | "
                     f"{r['seconds']} | {r['per_worker']} |")
    s = res["sqlite"]
    lines += [f"| SQLite (one worker only) | 1 | {s['alerts_per_s']:,} | {s['deliveries_per_s']:,} | {s['seconds']} | "
              f"{s['per_worker']} |", "",
              f"Ingest + approval (routing, payloads, outbox rows in the approval's transaction), one alert per "
              f"transaction: {res['approve_alerts_per_s']:,} alerts/s on PostgreSQL. Every run checks that the inbox "
              f"holds exactly one item per delivery. Each worker round is one claim (FOR UPDATE SKIP LOCKED), one "
              f"multi-row inbox insert, one executemany outbox update and one alert update; on a machine with few "
              f"CPUs PostgreSQL and the workers share them, so more workers than CPUs add contention.", ""]
    append_section("\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("WEIMENG_PROGRESS", "0")
    main()
