"""Where a one-person ``POST /v1/score`` spends its work, measured without wall time.

Both BentoML services (ours, ``serving.scoring.service:WeimengScoring``, and the floor,
``benchmarks/bare_service.py``) are built in this one process as the ASGI apps ``bentoml serve`` runs
(every BentoML middleware included: metrics, tracing, access log, traffic limits, context; ours adds its
two) and driven by a minimal in-process ASGI driver: no sockets, no HTTP parsing, no client library, so
what is counted is the services' own handler path. For each path (the floor, our service for a flagged
person, our service for anyone, our ``ScoringApp.score_ids`` alone, the driver with an empty app) it
reports, in the same run:

* CPU time per request (``time.process_time`` over many requests, best of ``--rounds`` interleaved
  rounds): CPU time is not wall time, so a busy machine changes it far less;
* with ``--callgrind``: instructions per request (valgrind's callgrind, counted only around each phase
  with ``callgrind_control``), which do not depend on the load at all;

and every figure as a ratio to the floor's. The uvicorn HTTP layer (parsing, sockets), the same for both
services, is not in these figures: over HTTP it adds the same absolute cost to both, so the HTTP ratios
(``bench_serving.py``) are smaller than these.

Usage: python benchmarks/request_cost.py [--people 20000] [--days 730] [--seed 61] [--requests 1500]
       [--rounds 3] [--callgrind] [--profile] [--no-audit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("WEIMENG_PROGRESS", "0")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


# -- set-up (natively, once) -------------------------------------------------------------------------
def build(args, tmp: Path) -> dict:
    """A world, a registered 300-tree model, an API key, a migrated operational store; returns the plan."""
    import logging

    import pandas as pd

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from _serving_world import serving_world

    from serving.scoring.app import ScoringApp
    from serving.scoring.auth import KeyStore
    from serving.scoring.settings import ServingSettings
    from tests._shared import migrated_sqlite

    sw = serving_world(tmp, args.people, args.days, args.seed)
    world, as_of, uri = sw.world, sw.as_of, sw.tracking_uri
    home = tmp / "home"
    ops = f"sqlite:///{migrated_sqlite(tmp / 'ops.db')}"
    bento_args = {"home": str(home), "data_dir": str(world), "tracking_uri": uri, "default_as_of": as_of,
                  "registry_poll_seconds": 0}
    key = KeyStore(home / "serving" / "api_keys.json").create("bench", ["510000"])
    app = ScoringApp.start(ServingSettings.load(None, bento_args), watch=False)
    assert app.source is not None and app.scorer.bundle.model is not None
    pop = app.source.population_frame(pd.Timestamp(as_of))
    scored = app.scorer.score_frame(pop, explain="flagged")
    ids = [s.person_id for s in scored]
    flagged = [s.person_id for s in scored if s.level != "none"]
    _, body = app.score_ids(key, [flagged[0]], as_of)
    (tmp / "answer.json").write_bytes(json.dumps(body, ensure_ascii=False, allow_nan=False,
                                                 default=str).encode("utf-8"))
    return {"tmp": str(tmp), "args": bento_args, "key": key, "as_of": as_of, "ids": ids, "flagged": flagged,
            "ops_url": ops, "people": args.people, "days": args.days, "seed": args.seed,
            "trees": app.scorer.bundle.model.booster.num_trees()}


# -- the in-process ASGI driver -----------------------------------------------------------------------
class Driver:
    """Runs an ASGI app's lifespan and sends it requests on one event loop, with no network at all."""

    def __init__(self, app, loop: asyncio.AbstractEventLoop) -> None:
        self.app, self.loop = app, loop
        self._to_app: asyncio.Queue = asyncio.Queue()
        self._from_app: asyncio.Queue = asyncio.Queue()
        self._task = None

    def start(self) -> None:
        async def receive():
            return await self._to_app.get()

        async def send(message):
            await self._from_app.put(message)

        async def go():
            self._task = asyncio.ensure_future(self.app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                                        receive, send))
            await self._to_app.put({"type": "lifespan.startup"})
            got = asyncio.ensure_future(self._from_app.get())
            await asyncio.wait([got, self._task], return_when=asyncio.FIRST_COMPLETED)
            if not got.done():
                self._task.result()  # the app's own error
                raise SystemExit("the app's lifespan ended before it started")
            msg = got.result()
            if msg["type"] != "lifespan.startup.complete":
                raise SystemExit(f"service did not start: {msg}")

        self.loop.run_until_complete(go())

    def stop(self) -> None:
        async def go():
            await self._to_app.put({"type": "lifespan.shutdown"})
            await self._from_app.get()

        self.loop.run_until_complete(go())

    async def _post(self, path: str, body: bytes, headers: list) -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                 "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 3000)}
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    def post(self, path: str, body: bytes, headers: list) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._post(path, body, headers))


async def _empty_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _factory(service):
    from _bentoml_impl.server.app import ServiceAppFactory  # type: ignore[import-untyped]

    service.inject_config()
    factory = ServiceAppFactory(service, is_main=True)
    return factory, factory()


def _forget_bentoml_metrics() -> None:
    """Unregister BentoML's own request metrics (the first service's middleware keeps its objects and
    goes on observing them: both services still pay for their metrics)."""
    from prometheus_client import REGISTRY

    for collector in list(REGISTRY._collector_to_names):
        if any(n.startswith("bentoml_") for n in REGISTRY._collector_to_names[collector]):
            REGISTRY.unregister(collector)


def _callgrind(cmd: str) -> None:
    subprocess.run(["callgrind_control", cmd, str(os.getpid())], check=True, stdout=subprocess.DEVNULL)


def measure(plan: dict, args) -> dict:
    from bentoml._internal.container import BentoMLContainer

    # the operational store (audit log, alert queue): migrated, or a path where none exists (no audit log)
    os.environ["WEIMENG_DATABASE_URL"] = plan["ops_url"] if args.audit else f"sqlite:///{plan['tmp']}/none.db"
    sys.path.insert(0, str(HERE))
    from bare_service import BareScoring

    from serving.scoring.service import WeimengScoring

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    BentoMLContainer.bento_arguments.set(dict(plan["args"]))
    ours_factory, ours_app = _factory(WeimengScoring)
    ours = Driver(ours_app, loop)
    ours.start()
    _forget_bentoml_metrics()  # the floor's middleware registers the same metric names again
    BentoMLContainer.bento_arguments.set({"body_file": str(Path(plan["tmp"]) / "answer.json")})
    _, bare_app = _factory(BareScoring)
    bare = Driver(bare_app, loop)
    bare.start()
    empty = Driver(_empty_app, loop)
    empty.start()
    scoring_app = ours_factory._service_instance.app
    for t in threading.enumerate():  # explanations of the default as-of are prepared in the background
        if t.name == "weimeng-prepare-explanations":
            t.join()

    key, as_of = plan["key"], plan["as_of"]
    headers = [(b"content-type", b"application/json"), (b"x-api-key", key.encode())]
    rng = random.Random(args.seed)
    n = args.requests
    bodies = {
        "flagged": [json.dumps({"person_ids": [rng.choice(plan["flagged"])], "as_of": as_of}).encode()
                    for _ in range(n)],
        "anyone": [json.dumps({"person_ids": [rng.choice(plan["ids"])], "as_of": as_of}).encode() for _ in range(n)],
    }
    bodies["bare"] = bodies["flagged"]
    flagged_pids = [json.loads(b)["person_ids"] for b in bodies["flagged"]]
    anyone_pids = [json.loads(b)["person_ids"] for b in bodies["anyone"]]

    def http(driver, label):
        def run():
            for body in bodies[label]:
                status, _ = driver.post("/v1/score", body, headers)
                if status != 200:
                    raise SystemExit(f"{label}: HTTP {status}")
        return run

    def own(pids):
        def run():
            for p in pids:
                scoring_app.score_ids(key, p, as_of, "flagged")
        return run

    paths = {"driver, empty app": http(empty, "bare"), "floor (bare BentoML)": http(bare, "bare"),
             "ours, flagged person": http(ours, "flagged"), "ours, anyone": http(ours, "anyone"),
             "score_ids alone, flagged": own(flagged_pids), "score_ids alone, anyone": own(anyone_pids)}
    for run in paths.values():  # warm every path (lazy imports, caches, the JIT of valgrind)
        run()
    cpu: dict[str, float] = {}
    instr: dict[str, float] = {}
    for _ in range(args.rounds):
        for j, (name, run) in enumerate(paths.items()):
            if args.callgrind:
                _callgrind("--zero")
                _callgrind("--instr=on")
            t0 = time.process_time()
            run()
            dt = (time.process_time() - t0) / n
            if args.callgrind:
                _callgrind("--instr=off")
                _callgrind(f"--dump=phase{j}")
            cpu[name] = min(cpu.get(name, float("inf")), dt)
    if args.callgrind:
        names = list(paths)
        instr = {names[int(k.removeprefix("phase"))]: v for k, v in _read_dumps(n).items()}
    if args.profile:
        import cProfile
        import pstats

        for name in ("floor (bare BentoML)", "ours, flagged person"):
            prof = cProfile.Profile()
            prof.runcall(paths[name])
            print(f"\n--- cProfile: {name}, {n} requests (cumulative) ---")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    for d in (ours, bare, empty):
        d.stop()
    return {"cpu_s": cpu, "instructions": instr}


def _read_dumps(n: int) -> dict[str, float]:
    """Instructions per request of each phase, from the callgrind dump files of this process (the lowest
    count over the rounds: the first round of a phase can still translate code)."""
    out: dict[str, float] = {}
    for path in Path.cwd().glob(f"callgrind.out.{os.getpid()}.*"):
        name, total = None, None
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("desc: Trigger: dump "):
                    name = line.removeprefix("desc: Trigger: dump ").strip()
                elif line.startswith("totals:"):
                    total = float(line.split()[1])
        if name and name.startswith("phase") and total is not None:
            out[name] = min(out.get(name, float("inf")), total / n)
        path.unlink()
    return out


def report(plan: dict, res: dict, args, load: tuple) -> None:
    cpu, instr = res["cpu_s"], res["instructions"]
    base_c = cpu["floor (bare BentoML)"]
    base_i = instr.get("floor (bare BentoML)")
    print(f"\nworld {plan['people']:,} people, {plan['days']} days, seed {plan['seed']}; model {plan['trees']} trees; "
          f"{args.requests} requests per path, best of {args.rounds} rounds; audit log "
          f"{'on' if args.audit else 'off'}; load average at the start {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f}")
    head = f"{'path':28s} {'CPU us/req':>11s} {'x floor':>8s}"
    if instr:
        head += f" {'instructions/req':>17s} {'x floor':>8s}"
    print(head)
    for name, c in cpu.items():
        line = f"{name:28s} {c * 1e6:11.0f} {c / base_c:8.2f}"
        if instr and name in instr and base_i:
            line += f" {instr[name]:17,.0f} {instr[name] / base_i:8.2f}"
        print(line)
    print("(in-process ASGI, no HTTP parsing or sockets; 'score_ids alone' is our application code without BentoML)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=61)
    ap.add_argument("--requests", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--callgrind", action="store_true", help="also count instructions (valgrind, slow)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the floor and the flagged path")
    ap.add_argument("--no-audit", dest="audit", action="store_false",
                    help="no operational store: the audit sink cannot open (as bench_serving.py runs)")
    ap.add_argument("--reuse", help="a directory to keep the world and model in, and reuse when it has them")
    ap.add_argument("--plan", help=argparse.SUPPRESS)  # the measuring child under valgrind
    args = ap.parse_args()
    load = os.getloadavg()
    if args.plan:
        plan = json.loads(Path(args.plan).read_text())
        res = measure(plan, args)
        Path(args.plan).with_suffix(".result.json").write_text(json.dumps(res))
        return
    tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="weimeng-request-cost-"))
    try:
        t0 = time.time()
        saved = tmp / "plan.json"
        if args.reuse and saved.exists():
            plan = json.loads(saved.read_text())
        else:
            tmp.mkdir(parents=True, exist_ok=True)
            plan = build(args, tmp)
            saved.write_text(json.dumps(plan))
        print(f"world and model ready ({time.time() - t0:.0f} s); {len(plan['ids']):,} people at the as-of, "
              f"{len(plan['flagged']):,} flagged", flush=True)
        if args.callgrind:
            plan_path = saved
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=no",
                   sys.executable, __file__, "--plan", str(plan_path), "--requests", str(args.requests),
                   "--rounds", str(args.rounds), "--seed", str(args.seed), "--callgrind"]
            subprocess.run(cmd, check=True, cwd=tmp, stderr=subprocess.DEVNULL)
            res = json.loads(plan_path.with_suffix(".result.json").read_text())
        else:
            res = measure(plan, args)
        report(plan, res, args, load)
    finally:
        if not args.reuse:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
