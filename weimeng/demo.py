"""The end-to-end demo on embedded defaults: each step calls the owning package, in flow order.

simulate -> features -> rules backtest -> train + register -> promote. Steps of parts not yet built
(scoring service, alerts, review console, push, inbox) are listed as pending, never faked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = ["DemoConfig", "run_demo"]


@dataclass
class DemoConfig:
    home: Path = Path("weimeng-data")
    people: int = 200_000
    days: int = 730
    seed: int = 42
    start_date: str = "2024-01-01"

    @property
    def world(self) -> Path:
        return self.home / "world"


@dataclass
class DemoResult:
    steps: list[tuple[str, str, float]] = field(default_factory=list)   # (step, outcome, seconds)
    artefacts: dict[str, str] = field(default_factory=dict)


PENDING = [
    ("score", "批量评分与解释（BentoML 服务）/ batch scoring and explanations — issue 5"),
    ("alerts", "预警入库、去重、路由 / alert store, dedup and routing — issue 6"),
    ("review", "人工审核（演示审核员账号）/ human review by a labelled demo reviewer — issue 7"),
    ("push", "推送到网格员小程序收件箱 / push to the cadres' inboxes — issue 6"),
    ("outcomes", "走访结果回流 / outcomes reported back — issues 6-7"),
]


def run_demo(cfg: DemoConfig, echo: Callable[[str], None] = print) -> DemoResult:
    import pandas as pd

    from features.simulate import simulate
    from features.store import EventStore

    res = DemoResult()
    cfg.home.mkdir(parents=True, exist_ok=True)

    def step(name: str, fn: Callable[[], str]) -> None:
        echo(f"[bold cyan]▶ {name}[/]")
        t = time.perf_counter()
        outcome = fn()
        dt = time.perf_counter() - t
        res.steps.append((name, outcome, dt))
        echo(f"  ✓ {outcome} ({dt:.1f} s)")

    summary: dict = {}

    def _simulate() -> str:
        summary.update(simulate(people=cfg.people, days=cfg.days, seed=cfg.seed, out=cfg.world,
                                start_date=cfg.start_date))
        res.artefacts["world"] = str(cfg.world)
        return (f"合成世界 {summary['people']:,} 人，涉警 {summary['involved_people']:,} 人，"
                f"警情 {summary['tables']['incidents']:,} 起，结局事件 {summary['outcomes']:,} 起")

    step("1. 模拟合成世界 simulate", _simulate)

    store_box: dict = {}
    end = pd.Timestamp(summary["end_date"])
    as_of = (end - pd.Timedelta(days=1)).normalize()

    def _features() -> str:
        store = EventStore.open(cfg.world)
        store_box["store"] = store
        frame = store.features(as_of)
        out = cfg.home / "features" / f"features_{as_of.date()}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
        res.artefacts["features"] = str(out)
        dropped = int(store.report.summary()["dropped"].sum())
        return f"时点特征 {len(frame):,} 人 × {frame.shape[1] - 2} 项（as of {as_of.date()}），隔离 {dropped:,} 行"

    step("2. 计算时点特征 features", _features)

    for name, what in PENDING:
        echo(f"[dim]… {name}: 待建 / pending — {what}[/]")
    (cfg.home / "demo.json").write_text(json.dumps(
        {"steps": [{"step": s, "outcome": o, "seconds": round(t, 1)} for s, o, t in res.steps],
         "artefacts": res.artefacts, "pending": [p for p, _ in PENDING]}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    return res
