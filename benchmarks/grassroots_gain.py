"""What the grassroots channels add to the model: one simulated world, trained twice.

``with``: the world as simulated (cadres' field reports and residents' tips included); ``without``: the very same
world with ``field_reports.parquet`` and ``tips.parquet`` withheld (the simulator draws the channels from their
own random stream, so every other table is identical); ``with, same rows``: the ``with`` features on exactly the
rows (person, snapshot) of ``without`` (the channels also add people to the population; this row separates the
new features' gain from the population's change). Prints the model's test ROC-AUC, precision at capacity and
both oracles for each, and appends a section to RESULTS.md with the machine and the date.

    .venv/bin/python benchmarks/grassroots_gain.py --people 200000 --seed 2718 --out /tmp/grassroots-gain
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import date
from pathlib import Path

from _record import append_section, machine

KEYS = ("roc_auc", "precision_at_capacity", "oracle_records_roc_auc", "oracle_full_roc_auc",
        "rules_precision_at_capacity", "oracle_records_precision_at_capacity")


def _without(world: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for f in world.iterdir():
        if f.name in ("field_reports.parquet", "tips.parquet", "quarantine"):
            continue
        target = out / f.name
        if not target.exists():
            target.symlink_to(f.resolve())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=2718)
    ap.add_argument("--out", type=Path, default=Path("/tmp/grassroots-gain"))
    ap.add_argument("--reuse", action="store_true", help="reuse the world already simulated in --out")
    args = ap.parse_args()

    from dataclasses import replace

    from features.simulate import load_world_meta, simulate
    from training.config import load_config
    from training.dataset import world_training_set
    from training.pipeline import train_on_set

    t0 = time.perf_counter()
    if args.reuse and (args.out / "with" / "world.json").exists():
        summary = load_world_meta(args.out / "with") or {}
    else:
        shutil.rmtree(args.out, ignore_errors=True)
        summary = simulate(people=args.people, days=args.days, seed=args.seed, out=args.out / "with", progress=False)
    worlds = {"with": args.out / "with", "without": _without(args.out / "with", args.out / "without")}
    cfg = load_config(None)
    sets = {name: world_training_set(world, cfg) for name, world in worlds.items()}
    keys = sets["without"].frame[["person_id", "as_of"]]
    merged = sets["with"].frame.merge(keys.assign(_keep=True), on=["person_id", "as_of"], how="left")
    keep = merged["_keep"].notna().to_numpy(bool)
    sets["with, same rows"] = replace(sets["with"], frame=sets["with"].frame[keep].reset_index(drop=True))
    rows = {}
    for name, ts in sets.items():
        slug = name.replace(", ", "-").replace(" ", "-")
        r = train_on_set(ts, cfg, tracking_uri=f"sqlite:///{args.out / ('mlflow-' + slug + '.db')}",
                         out_dir=args.out / f"reports-{slug}")
        rows[name] = {k: r.metrics.get(k) for k in KEYS} | {"test": r.sizes.get("test")}
        print(name, json.dumps(rows[name], ensure_ascii=False), flush=True)
    elapsed = time.perf_counter() - t0
    lines = [f"## grassroots channels: model with vs without field reports and tips ({date.today()})", "",
             f"World: {summary.get('people', args.people):,} people, {summary.get('days', args.days)} days, seed "
             f"{summary.get('seed', args.seed)}; field reports {summary['tables'].get('field_reports', 0):,}, tips "
             f"{summary['tables'].get('tips', 0):,}, incidents {summary['tables']['incidents']:,}. Machine: "
             f"{machine()}. Wall time {elapsed:.0f} s.", "",
             "| world | model ROC-AUC | precision at capacity | records oracle ROC-AUC | full oracle ROC-AUC | "
             "rules precision at capacity | test rows (positives) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in rows.items():
        def f(k, m=m):
            return "" if m.get(k) is None else f"{m[k]:.4f}"
        lines.append(f"| {name} | {f('roc_auc')} | {f('precision_at_capacity')} | {f('oracle_records_roc_auc')} | "
                     f"{f('oracle_full_roc_auc')} | {f('rules_precision_at_capacity')} | "
                     f"{(m['test'] or {}).get('rows', 0):,} ({(m['test'] or {}).get('positives', 0):,}) |")
    append_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
