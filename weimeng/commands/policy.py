"""`weimeng policy backtest`: the whole fusion policy (rules + model + budget) on monthly snapshots.

Thin: it loads the model version and its registered thresholds, calls training.policy_backtest, and
(optionally) checks that the batch run and the scoring service give everyone the same level at one
as-of. Prints the issue's goals and writes Markdown + HTML.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from weimeng.errors import WeimengGroup

__all__ = ["policy_app", "backtest_command", "check_agreement", "fix_thresholds_command"]

policy_app = typer.Typer(help="融合策略 Fusion policy: backtest the whole policy (rules + model + budget).",
                         no_args_is_help=True, add_completion=False, cls=WeimengGroup)


def check_agreement(data_dir: Path, tracking_uri: str, alias: str, as_of: str, fusion: Path | None,
                    home: Path) -> dict:
    """Levels of the batch run and of a separately started service for everyone at ``as_of``."""
    from common.records import SinkReport
    from serving.scoring.app import ScoringApp
    from serving.scoring.batch import score_population
    from serving.scoring.settings import ServingSettings

    def no_sink(scored) -> SinkReport:  # a backtest files nothing
        return SinkReport(unchanged=len(scored))

    def start(sub: str) -> ScoringApp:
        over = {"home": str(home / sub), "data_dir": str(data_dir), "tracking_uri": tracking_uri, "model_alias": alias,
                "default_as_of": as_of, "registry_poll_seconds": 0, "auth_required": False, "max_batch": 5000}
        if fusion is not None:
            over["fusion"] = str(fusion)
        return ScoringApp.start(ServingSettings.load(None, overrides=over), sink=no_sink, watch=False)

    batch_app = start("batch")
    try:
        table, _ = score_population(batch_app, as_of, explain="none")
        version = batch_app.scorer.bundle.thresholds.version
    finally:
        batch_app.close()
    svc = start("service")
    try:
        ids = table["person_id"].tolist()
        levels: dict[str, str] = {}
        for i in range(0, len(ids), 5000):
            _, body = svc.score_ids(None, ids[i:i + 5000], as_of, explain="none")
            levels.update({it["person_id"]: it["result"]["level"] for it in body["items"] if it["status"] == "ok"})
        svc_version = svc.scorer.bundle.thresholds.version
    finally:
        svc.close()
    same = sum(levels.get(p) == lv for p, lv in zip(table["person_id"], table["level"], strict=True))
    return {"as_of": as_of, "people": len(table), "same": int(same), "thresholds_version": version,
            "service_thresholds_version": svc_version,
            "alerts": int(((table["level"] != "none") & ~table["urgent"]).sum()), "watch": int(table["watch"].sum())}


@policy_app.command("backtest")
def backtest_command(
    data: Path | None = typer.Option(None, "--data",
                                     help="世界/数据目录 world directory (default: $WEIMENG_HOME/world)"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
    alias: str = typer.Option("champion", "--alias", help="模型别名 model alias"),
    fusion: Path | None = typer.Option(None, "--fusion", help="融合策略 YAML (default: the packaged policy)"),
    out: Path | None = typer.Option(None, "--out", help="报告目录 report folder"),
    agreement: bool = typer.Option(True, "--agreement/--no-agreement",
                                   help="核对批量与服务等级一致 check batch/service agreement at the last snapshot"),
) -> None:
    """融合策略回测 Backtest the whole fusion policy and print the goals (预算、精确率、一致性)."""
    import tempfile
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    from common.settings import Settings
    from serving.scoring.fusion import load_policy
    from training.budget import AlertThresholds
    from training.policy_backtest import PolicySpec, policy_backtest, validation_thresholds, write_report
    from training.registry import load_registered_model, resolve_tracking_uri
    from weimeng.quiet import quiet_mlflow

    con = Console()
    uri = resolve_tracking_uri(tracking_uri)
    quiet_mlflow()
    settings = Settings.from_env()
    data = data or settings.world_dir
    policy = load_policy(fusion)
    spec = PolicySpec.from_policy(policy)
    model = load_registered_model(alias, tracking_uri=uri)
    raw = model.metadata.get("alert_thresholds")
    th = AlertThresholds.from_dict(raw) if raw else None
    if th is None or th.detail.get("budget_digest") != policy.budget.digest():
        con.print("[yellow]该模型版本没有按本预算登记的阈值[/] the version has no thresholds registered for this "
                  "budget: computing them from its validation population (promote it to register them).")
        th = validation_thresholds(model, data, policy.budget)
    result = policy_backtest(model, data, spec, th)
    if agreement and result.snapshots:
        with tempfile.TemporaryDirectory() as tmp:
            result.agreement = check_agreement(Path(data), uri, alias, result.snapshots[-1], fusion, Path(tmp))
    out = out or settings.reports_dir / f"policy-{datetime.now():%Y%m%d-%H%M%S}"
    paths = write_report(result, out)
    s = result.summary
    con.print(f"[bold]融合策略回测[/] policy {spec.version} · model v{result.model_version} · thresholds "
              f"{result.thresholds_version} · {len(result.snapshots)} snapshots")
    con.print(f"  本期预警 {s['alerts_per_run']:.0f} 条 / 预算 {s['budget_per_run']} 条 (每网格每周 "
              f"{s['alerts_per_grid_per_week']:.3f} / {s['budget_per_grid_per_week']:.3f}); precision "
              f"{s['precision']:.3f}, recall {s['recall']:.3f}; rules-only {s['rules_only_precision']:.3f}, "
              f"model-only {s['model_only_precision']:.3f}, records oracle {s['oracle_records_precision']:.3f}")
    t = Table(title="目标 Goals (issue 12)")
    for c in ("目标 goal", "实测 measured", "达成 met"):
        t.add_column(c)
    for g in result.goals:
        t.add_row(g["goal"], g["measured"], "[green]是 yes[/]" if g["met"] else "[red]否 NO[/]")
    con.print(t)
    with contextlib.suppress(Exception):
        con.print(f"报告 report: {paths['markdown']} · {paths['html']}")


@policy_app.command("fix-thresholds")
def fix_thresholds_command(
    version: str | None = typer.Option(None, "--version", help="版本 version (default: @champion)"),
    fusion: Path | None = typer.Option(None, "--fusion", help="融合策略 YAML whose budget applies (default: packaged)"),
    data: Path | None = typer.Option(None, "--data", help="验证数据 world directory (default: the version's data)"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
    force: bool = typer.Option(False, "--force", help="重算 recompute even if fixed for this budget"),
) -> None:
    """按预算重算阈值 Fix a version's alert thresholds for the policy's budget (after a budget change)."""
    from rich.console import Console

    from serving.scoring.fusion import load_policy
    from training.promotion import fix_thresholds
    from training.registry import resolve_tracking_uri
    from weimeng.quiet import quiet_mlflow

    uri = resolve_tracking_uri(tracking_uri)
    quiet_mlflow()
    budget = load_policy(fusion).budget
    r = fix_thresholds(version, tracking_uri=uri, budget=budget, data_dir=str(data) if data else None, force=force)
    Console().print(f"[green]阈值已登记[/] thresholds {r.get('thresholds_version')} for v{r['version']}"
                    + (" (unchanged: already fixed for this budget)" if r.get("kept") else
                       f": {r.get('alerts_per_run')} alerts per run over {r.get('counties')} counties"))
