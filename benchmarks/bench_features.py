"""Benchmark: simulation and point-in-time features at province scale.

Prints and records (benchmarks/RESULTS.md) for this machine and date:

1. simulating N people over two years (default 1,000,000);
2. features for everyone with records as of one date, and for 12 monthly snapshots, on that world;
3. features for 1M people from a synthetic load of 10M incidents (the issue's goal: under 60 s),
   with loading/validation/preparation timed separately;
4. peak memory (max RSS) of each stage, each stage in its own process;
5. optionally the same features on Spark (below).

Usage: python benchmarks/bench_features.py [--people 1000000] [--incidents 10000000] [--world DIR] [--skip-world]
       [--spark 2000000] [--seed 1] [--load-seed 5] [--prepared DIR [--write-prepared]] [--no-record]

``--spark N`` adds the local Spark path (Sail, Spark Connect) on a synthetic load of N incidents: the same
features from the Parquet relations the DuckDB store writes, timed in its own process, as a ratio to DuckDB.

``--prepared DIR`` times only the feature statement (DuckDB, the store's memory bound and threads) over the
prepared relations in DIR (``EventStore.write_prepared``; ENUM columns restored as the store types them), so
the feature query can be iterated on without paying the load; ``--write-prepared`` writes DIR from the
``--incidents`` load first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _record import append_section, machine  # noqa: E402

HERE = Path(__file__).resolve().parent


#: Python source that writes a synthetic load of ``n`` incidents (two parties each) on a world's people
#: into ``load`` (the world's other tables copied); ``str.format`` fills world, load, n and seed (the
#: incidents' random seed).
SYNTHETIC_LOAD = """
import numpy as np, pandas as pd
from pathlib import Path
world, load = Path({world!r}), Path({load!r})
load.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng({seed})
persons = pd.read_parquet(world / 'persons.parquet')
n_inc = {n}
for name in ['grids', 'stations', 'staff', 'addresses', 'persons', 'disputes', 'dispute_parties', 'mediations',
             'care_records', 'outcomes']:
    if (world / f'{{name}}.parquet').exists():
        pd.read_parquet(world / f'{{name}}.parquet').to_parquet(load / f'{{name}}.parquet', index=False)
pid = persons['person_id'].to_numpy()
addr = persons['residence_address_code'].to_numpy()
start = np.datetime64('2024-01-01T00:00:00')
secs = rng.integers(0, 730 * 86400, n_inc)
caller = rng.integers(0, len(pid), n_inc)
other = (caller + rng.integers(1, 500, n_inc)) % len(pid)
cats = np.array(['family', 'marital', 'neighbour', 'labour', 'land', 'debt', 'consumer', 'other'], dtype=object)
notes = np.array(['报警称与邻居因噪音扰民发生纠纷。民警到场后现场调解。', '一方扬言要报复对方，经调解未果。',
                  '一方情绪激动称不想活了。', '家属报警称当事人精神病发作。'], dtype=object)
ids = np.char.add('J', np.arange(n_inc).astype(str))
t_event = start + secs.astype('timedelta64[s]')
inc = pd.DataFrame(dict(incident_id=ids, event_time=t_event.astype('datetime64[ns]'),
    recorded_at=(t_event + rng.integers(60, 7200, n_inc).astype('timedelta64[s]')).astype('datetime64[ns]'),
    address_code=addr[caller], category=cats[rng.integers(0, 8, n_inc)], disposition='unresolved',
    flag_violence=rng.random(n_inc) < 0.1, flag_weapon=rng.random(n_inc) < 0.02, flag_alcohol=rng.random(n_inc) < 0.1,
    flag_minor_present=rng.random(n_inc) < 0.05, flag_threat=rng.random(n_inc) < 0.03,
    note=notes[rng.integers(0, 4, n_inc)], dispute_id=None, station_id=None))
inc.to_parquet(load / 'incidents.parquet', index=False)
parties = pd.DataFrame(dict(incident_id=np.concatenate([ids, ids]), person_id=np.concatenate([pid[caller], pid[other]]),
                            role=np.concatenate([np.full(n_inc, 'caller'), np.full(n_inc, 'party')])))
parties.drop_duplicates(['incident_id', 'person_id']).to_parquet(load / 'incident_parties.parquet', index=False)
"""


def _stage(code: str) -> dict:
    """Run a Python snippet in a fresh process (``cpu()`` defined for it); it prints one JSON line; add its
    max RSS."""
    wrapper = (
        "import json, resource, time\n"
        "def cpu():  # the process's CPU-seconds (user + system), DuckDB's and Sail's threads included\n"
        "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    return r.ru_utime + r.ru_stime\n"
        f"{code}\n"
        "res['max_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)\n"
        "print('RESULT ' + json.dumps(res))\n"
    )
    env = dict(os.environ, WEIMENG_PROGRESS="0", PYTHONPATH=str(HERE.parent))
    # a script file, not ``python -c``: the Spark Connect client looks for a Spark installation under -c
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="weimeng-bench-stage-", delete=False) as f:
        f.write(wrapper)
    try:
        out = subprocess.run([sys.executable, f.name], capture_output=True, text=True, env=env)
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def synthetic_load(world: Path, load: Path, n: int, seed: int, *, reuse: bool = True) -> Path:
    """Write the synthetic load of ``n`` incidents into ``load`` in its own process (so it is in no stage's peak
    memory), unless ``reuse`` and it is already there; returns ``load``."""
    if not (reuse and (load / "incidents.parquet").exists()):
        script = SYNTHETIC_LOAD.format(world=str(world), load=str(load), n=n, seed=seed)
        _stage(script + "res = dict(incidents=n_inc)\n")
    return load


_BIG = """
import os
from features.store import EventStore
load1 = os.getloadavg()[0]
t = time.perf_counter(); c = cpu(); store = EventStore.open({load!r}, progress=False)
t_open, c_open = time.perf_counter() - t, cpu() - c
rss_open = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter(); c = cpu(); f1 = store.features({as_of!r}); t_one, c_one = time.perf_counter() - t, cpu() - c
sums = {{k: float(f1[k].fillna(-1).sum()) for k in f1.columns[2:]}}
if {prepared!r}:
    store.write_prepared({prepared!r})
res = dict(open=round(t_open, 1), open_cpu=round(c_open, 1), rss_open=round(rss_open, 1), one=round(t_one, 1),
           one_cpu=round(c_one, 1), rows=len(f1), events=store.n_events, sums=sums, load_before=round(load1, 1),
           load_after=round(os.getloadavg()[0], 1))
"""

_PREPARED = """
import os
import duckdb, pandas as pd
from features.pointintime import feature_sql
from features.prepare import _ENUMS, _enum, epoch_s
from features.spark import PREPARED_RELATIONS
from features.store import DEFAULT_MEMORY_LIMIT, _bound_memory
con = duckdb.connect(':memory:')
_bound_memory(con, DEFAULT_MEMORY_LIMIT)
for name in PREPARED_RELATIONS:
    files = os.path.join({prepared!r}, name, '*.parquet').replace("'", "''")
    cols = [c for c, *_ in con.execute(f"DESCRIBE SELECT * FROM '{{files}}'").fetchall()]
    select = ", ".join(f"CAST({{c}} AS {{_enum(c)}}) AS {{c}}" if name == 'ev' and c in _ENUMS else c for c in cols)
    con.execute(f"CREATE TABLE {{name}} AS SELECT {{select}} FROM '{{files}}'")
con.register('snapshots', pd.DataFrame({{'as_of_ts': epoch_s([pd.Timestamp({as_of!r})])}}))
load1 = os.getloadavg()[0]
t = time.perf_counter(); c = cpu(); f1 = con.execute(feature_sql('population')).df()
t_one, c_one = time.perf_counter() - t, cpu() - c
sums = {{k: float(f1[k].fillna(-1).sum()) for k in f1.columns[2:]}}
res = dict(one=round(t_one, 1), one_cpu=round(c_one, 1), rows=len(f1), sums=sums, load_before=round(load1, 1),
           load_after=round(os.getloadavg()[0], 1))
"""

_SPARK = """
import os
from features.spark import SparkFeatures, local_server
load1 = os.getloadavg()[0]
with local_server() as url:  # Sail runs inside this process: its CPU and memory are counted here
    engine = SparkFeatures(url, {prepared!r})
    t = time.perf_counter(); c = cpu(); f1 = engine.features({as_of!r})
    t_one, c_one = time.perf_counter() - t, cpu() - c
    engine.close()
sums = {{k: float(f1[k].fillna(-1).sum()) for k in f1.columns[2:]}}
res = dict(one=round(t_one, 1), one_cpu=round(c_one, 1), rows=len(f1), sums=sums, load_before=round(load1, 1),
           load_after=round(os.getloadavg()[0], 1))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--incidents", type=int, default=10_000_000)
    ap.add_argument("--world", help="reuse a simulated world in this folder (simulated there if empty)")
    ap.add_argument("--skip-world", action="store_true", help="no features on the simulated world itself")
    ap.add_argument("--spark", type=int, default=0,
                    help="also compute the features on the local Spark path (Sail) from a synthetic load of this "
                         "many incidents, and the same on DuckDB, as a ratio (0: skip)")
    ap.add_argument("--work", help="working folder (synthetic loads kept there and reused); default: a new temp folder")
    ap.add_argument("--seed", type=int, default=1, help="the simulated world's seed")
    ap.add_argument("--load-seed", type=int, default=5, help="the synthetic load's random seed")
    ap.add_argument("--prepared", help="time only the feature statement over the prepared relations in this folder")
    ap.add_argument("--write-prepared", action="store_true",
                    help="with --prepared: write that folder from the --incidents load first")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="weimeng-bench-"))
    world = Path(args.world) if args.world else work / "world"
    rows = []
    if args.prepared:
        _prepared_only(args, work, world)
        return

    if not (world / "persons.parquet").exists():
        sim = _stage(f"""
from features.simulate import simulate
t = time.perf_counter()
s = simulate(people={args.people}, days=730, seed={args.seed}, out={str(world)!r}, progress=False)
res = dict(seconds=round(time.perf_counter() - t, 1), incidents=s['tables']['incidents'],
           involved=s['involved_people'], outcomes=s['outcomes'])
""")
        rows.append((f"simulate {args.people:,} people x 730 days", f"{sim['seconds']} s",
                     f"{sim['incidents']:,} incidents, {sim['involved']:,} involved", sim["max_rss_mb"], ""))

    if not args.skip_world:
        feats = _stage(f"""
import pandas as pd
from features.store import EventStore
t = time.perf_counter(); store = EventStore.open({str(world)!r}, progress=False); t_open = time.perf_counter() - t
t = time.perf_counter(); f1 = store.features('2025-06-01'); t_one = time.perf_counter() - t
dates = pd.date_range('2024-12-01', periods=12, freq='MS')
t = time.perf_counter(); f12 = store.features(list(dates)); t_12 = time.perf_counter() - t
pid = f1['person_id'].iloc[0]
t = time.perf_counter()
for _ in range(20): store.online_vector(pid, '2025-06-01')
t_online = (time.perf_counter() - t) / 20
res = dict(open=round(t_open, 1), one=round(t_one, 2), rows_one=len(f1), twelve=round(t_12, 1),
           rows_12=len(f12), online_ms=round(t_online * 1000, 1))
""")
        rows.append(("world: load + validate + prepare", f"{feats['open']} s", "", feats["max_rss_mb"], ""))
        rows.append(("world: features as of one date", f"{feats['one']} s", f"{feats['rows_one']:,} people", "", ""))
        rows.append(("world: features, 12 monthly snapshots", f"{feats['twelve']} s", f"{feats['rows_12']:,} rows",
                     "", ""))
        rows.append(("world: one person's online vector", f"{feats['online_ms']} ms", "same SQL as batch", "", ""))

    for n, spark in ((args.incidents, False), (args.spark, True)):
        if not n:
            continue
        load = synthetic_load(world, work / f"load_{n}", n, args.load_seed)
        prepared = str(work / f"prepared_{n}") if spark else ""
        big = _stage(_BIG.format(load=str(load), as_of="2026-01-01", prepared=prepared))
        loads = f"{big['load_before']} / {big['load_after']}"
        rows.append((f"load {n:,} incidents: validate + prepare (DuckDB)",
                     f"{big['open']} s wall, {big['open_cpu']} CPU-s", f"{big['events']:,} person-event rows",
                     big["rss_open"], loads))
        rows.append((f"features for {big['rows']:,} people from {n:,} incidents (DuckDB)",
                     f"{big['one']} s wall, {big['one_cpu']} CPU-s", "goal < 60 s", big["max_rss_mb"], loads))
        if spark:
            sp = _stage(_SPARK.format(prepared=prepared, as_of="2026-01-01"))
            same = sp["rows"] == big["rows"] and all(
                abs(sp["sums"][k] - big["sums"][k]) <= 1e-6 * max(1.0, abs(big["sums"][k])) for k in big["sums"])
            rows.append((f"features for {sp['rows']:,} people from {n:,} incidents (Spark: local Sail)",
                         f"{sp['one']} s wall, {sp['one_cpu']} CPU-s",
                         f"{sp['one'] / max(big['one'], 0.05):.2f}x DuckDB wall, "
                         f"{sp['one_cpu'] / max(big['one_cpu'], 0.05):.2f}x CPU; "
                         f"{'same' if same else 'DIFFERENT'} column sums", sp["max_rss_mb"],
                         f"{sp['load_before']} / {sp['load_after']}"))

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## Features and simulation ({when}; {machine()})", "",
             "Each row runs in its own process; peak RSS is that process's (for the DuckDB load: at the end of "
             "the load; for the features: the whole process). CPU-seconds are the process's user + system time, "
             "the figure a busy shared machine does not inflate.", "",
             "| what | time | size | peak RSS (MB) | load avg before / after |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        append_section(text)


def _prepared_only(args, work: Path, world: Path) -> None:
    """``--prepared``: the feature statement alone over prepared relations; prints its figures and column sums."""
    prepared = str(Path(args.prepared).resolve())
    if args.write_prepared:
        load = synthetic_load(world, work / f"load_{args.incidents}", args.incidents, args.load_seed)
        _stage(f"from features.store import EventStore\n"
               f"res = EventStore.open({str(load)!r}, progress=False).write_prepared({prepared!r})\n")
    res = _stage(_PREPARED.format(prepared=prepared, as_of="2026-01-01"))
    print(json.dumps(res, ensure_ascii=False))
    print(f"特征查询（预处理数据）：{res['rows']:,} 人，{res['one']} 秒（CPU {res['one_cpu']} 秒），"
          f"峰值内存 {res['max_rss_mb']} MB，负载 {res['load_before']} / {res['load_after']}")


if __name__ == "__main__":
    main()
