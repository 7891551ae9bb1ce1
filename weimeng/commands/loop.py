"""`weimeng evaluate-loop`: the closed-loop prevention simulation (training.loop) and its report.

Thin: it builds the loop configuration from the options, runs every policy on every seed
(``training.loop.run_seeds``), prints prevented outcomes per 100 visits and the goals, and writes
Markdown + HTML + SVG (``training.loop_report.write_report``) under Settings.reports_dir.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["evaluate_loop_command"]


def evaluate_loop_command(
    people: int = typer.Option(40_000, "--people", help="每个模拟世界的人数 people per world"),
    seeds: str = typer.Option("101,202,303", "--seeds", help="种子，逗号分隔 seeds, comma-separated"),
    loop_days: int = typer.Option(360, "--loop-days", help="预警期天数 days with alerts"),
    visits: float = typer.Option(0.25, "--visits-per-grid-week", help="每网格每周走访次数 visits per grid per week"),
    accept: float = typer.Option(0.8, "--accept-share", help="审核通过比例 share of alerts accepted"),
    jobs: int = typer.Option(1, "--jobs", help="并行进程数（按种子）parallel processes, one seed each"),
    out: Path | None = typer.Option(None, "--out", help="报告目录 report folder"),
) -> None:
    """闭环模拟 Simulate cadres acting on alerts and compare policies by outcomes prevented per 100 visits."""
    import platform
    import time
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    from common.errors import BadInput
    from common.settings import Settings
    from training.budget import BudgetConfig
    from training.loop import POLICY_LABELS, LoopConfig, run_seeds
    from training.loop_report import LoopResult, write_report

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError as e:
        raise BadInput(f"--seeds {seeds!r}：种子须为逗号分隔的整数 / seeds must be comma-separated integers.",
                       field="seeds") from e
    if not seed_list:
        raise BadInput("--seeds：至少需要一个种子 / give at least one seed.", field="seeds")
    if people < 15_000:
        raise BadInput(f"--people {people}：闭环模拟至少需要 15000 人（训练需要足够的结局）/ the loop needs at least "
                       "15,000 people (training needs enough outcomes).", field="people")
    if not 0 < accept <= 1:
        raise BadInput(f"--accept-share {accept}：须在 0 到 1 之间 / must be in (0, 1].", field="accept_share")
    if not 30 <= loop_days <= 1080:
        raise BadInput(f"--loop-days {loop_days}：须在 30 到 1080 之间 / choose 30-1080.", field="loop_days")
    try:
        budget = BudgetConfig(visits_per_grid_per_week=visits)
    except ValueError as e:
        raise BadInput(f"--visits-per-grid-week {visits}：{e}", field="visits_per_grid_week") from e
    cfg = LoopConfig(people=people, loop_days=loop_days, accept_share=accept, budget=budget)
    con = Console()
    con.print(f"[bold]闭环模拟[/] {len(seed_list)} 个世界 × {people:,} 人，预警期 {loop_days} 天，"
              f"每 {cfg.step_days} 天研判一次")
    t0 = time.perf_counter()

    def progress(seed, policy, run) -> None:
        con.print(f"  种子 {seed} · {POLICY_LABELS[policy]}：走访 {len(run.visits)} 次，结局 {len(run.outcomes)} 起"
                  f"（{run.seconds:.0f} 秒）")

    runs = run_seeds(seed_list, cfg, jobs=jobs, progress=progress)
    res = LoopResult(runs, cfg, machine=f"{platform.node()} · {platform.processor() or platform.machine()} · "
                                        f"{datetime.now():%Y-%m-%d}", seconds=time.perf_counter() - t0)
    out = out or Settings.from_env().reports_dir / f"prevention-{datetime.now():%Y%m%d-%H%M%S}"
    paths = write_report(res, out)
    t = Table(title="每百次走访预防的期望结局（95% 区间）")
    for c in ("策略", "走访", "预防（期望）", "预防（实际）"):
        t.add_column(c)
    for _, r in res.table.iterrows():
        if r["policy"] == "none":
            continue
        t.add_row(POLICY_LABELS[r["policy"]], f"{r['visits']:.0f}",
                  f"{r['prevented_expected_per_100']:.2f}（{r['prevented_expected_per_100_lo']:.2f}–"
                  f"{r['prevented_expected_per_100_hi']:.2f}）", f"{r['prevented_per_100']:.2f}")
    con.print(t)
    for g in res.goals:
        con.print(f"  {'[green]达成[/]' if g['met'] else '[red]未达成[/]'} {g['goal']}：{g['measured']}")
    con.print(f"报告 → {paths['html']}")
