"""`weimeng train` and `weimeng model promote|rollback|list`: thin wrappers over the training package.

Heavy libraries (lightgbm, mlflow, pandas) load inside the command bodies so `weimeng --help` stays
fast. Expected failures (our errors, a missing file) print one clear Chinese-first message and exit with
the error kind's code, 2 for bad input (no traceback; see ``weimeng.errors``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from common.errors import BadInput
from weimeng.errors import WeimengGroup, cli_errors
from weimeng.quiet import quiet_mlflow

__all__ = ["train_command", "model_app"]

model_app = typer.Typer(cls=WeimengGroup, help="模型注册表 Model registry: promote / rollback / list.",
                        no_args_is_help=True, add_completion=False)


@contextlib.contextmanager
def _clean_errors() -> Iterator[None]:
    """Our errors end as one line and the kind's exit code even when a command is mounted on a plain
    ``typer.Typer``; a missing file (a table, spec or config named on the command line) is bad input."""
    with cli_errors():
        try:
            yield
        except FileNotFoundError as exc:
            raise BadInput(f"文件不存在 / file not found: {exc}") from exc


def _tracking_uri(given: str | None) -> str:
    from training.registry import resolve_tracking_uri

    return resolve_tracking_uri(given)


@contextlib.contextmanager
def _progress_bars() -> Iterator:
    """A ``progress(stage, done, total)`` callback drawing one rich bar per stage."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield progress


def _fmt(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    m = result.metrics
    con = Console()
    t = Table(title=f"测试期指标 Test period {', '.join(result.model.metadata.get('test_window', []))}")
    t.add_column("指标 metric")
    t.add_column("值 value", justify="right")
    rows = [
        ("ROC-AUC", _fmt(m.get("roc_auc"))), ("PR-AUC", _fmt(m.get("pr_auc"))), ("Brier", _fmt(m.get("brier"), 4)),
        ("每期告警数 alerts / snapshot", f"{int(m['alerts_per_snapshot'])}"),
        ("容量下精确率 precision@capacity", _fmt(m.get("precision_at_capacity"))),
        ("容量下召回率 recall@capacity", _fmt(m.get("recall_at_capacity"))),
        ("规则基线精确率 rules-only precision", _fmt(m.get("rules_precision_at_capacity"))),
        ("相对规则提升 lift over rules", _fmt(m.get("lift_over_rules"), 2)),
        ("记录真值 AUC records-oracle AUC", _fmt(m.get("oracle_records_roc_auc"))),
        ("完全真值 AUC full-oracle AUC", _fmt(m.get("oracle_full_roc_auc"))),
        ("模型/记录真值 AUC ratio", _fmt(m.get("auc_ratio_to_records_oracle"))),
        ("公平性告警 fairness flags", f"{len(result.assessment.flags)}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    con.print(t)
    for f in result.assessment.flags:
        con.print(f"  [yellow]公平性超界 outside bounds:[/] {f}")
    if result.version:
        con.print(f"[green]已登记[/] registered [bold]{result.model.metadata.get('model_name')}[/] "
                  f"v{result.version} (alias challenger), run {result.run_id}")
    con.print(f"模型卡 model card: {result.card.get('html')}")


def train_command(
    data: Path | None = typer.Option(None, "--data",
                                     help="世界/数据目录 world directory (default: $WEIMENG_HOME/world)"),
    table: Path | None = typer.Option(None, "--table", help="自带数据表 BYOD table (Parquet/CSV); needs --spec"),
    spec: Path | None = typer.Option(None, "--spec", help="BYOD 规格 YAML spec (see docs/byod.md)"),
    config: Path | None = typer.Option(None, "--config", help="训练配置 YAML (overrides the packaged default)"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
    out: Path | None = typer.Option(None, "--out", help="另存报告 also write the card and plots here"),
) -> None:
    """训练、评估并登记模型 Train, evaluate and register an escalation model (alias: challenger)."""
    with _clean_errors():
        if (table is None) != (spec is None):
            raise BadInput("--table 与 --spec 须同时给出 / --table and --spec go together (BYOD); see docs/byod.md.",
                           field="--spec" if spec is None else "--table")
        if table is not None and data is not None:
            raise BadInput("--data 与 --table 只能二选一 / give either --data (a world) or --table/--spec (BYOD), "
                           "not both.", field="--data")
        uri = _tracking_uri(tracking_uri)
        quiet_mlflow()
        from datetime import datetime

        from common.settings import Settings

        settings = Settings.from_env()
        # The card and plots are always in the MLflow run; a local copy lands under the data home too.
        out = out or settings.reports_dir / f"train-{datetime.now():%Y%m%d-%H%M%S}"
        with _progress_bars() as progress:
            if table is not None and spec is not None:  # checked above: both or neither
                from training.byod import train_from_table

                result = train_from_table(table, spec, config=config, tracking_uri=uri, progress=progress,
                                          out_dir=out)
            else:
                from training.pipeline import train

                result = train(data or settings.world_dir, config=config, tracking_uri=uri, progress=progress,
                               out_dir=out)
        _print_result(result)


@model_app.command("promote")
def promote_command(
    version: str | None = typer.Option(None, "--version", help="版本 version to promote (default: @challenger)"),
    force: bool = typer.Option(False, "--force", help="越过门槛 override a refusal (needs --reason)"),
    reason: str | None = typer.Option(None, "--reason", help="理由 why (recorded on the version)"),
    by: str | None = typer.Option(None, "--by", help="操作人 who (default: login name)"),
    config: Path | None = typer.Option(None, "--config", help="训练配置 YAML (gate tolerances)"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
) -> None:
    """晋升挑战者为现任 Promote the challenger to champion if it passes the gate."""
    from rich.console import Console

    with _clean_errors():
        uri = _tracking_uri(tracking_uri)
        quiet_mlflow()
        from training.promotion import promote

        rep = promote(version, tracking_uri=uri, force=force, reason=reason, by=by,
                      config=None if config is None else str(config))
        con = Console()
        if rep.forced:
            con.print(f"[yellow]已强制晋升[/] forced: v{rep.challenger} is champion (gate said: "
                      f"{'; '.join(rep.reasons)}); reason recorded.")
        else:
            con.print(f"[green]已晋升[/] promoted: v{rep.challenger} is champion"
                      + (f" (replaces v{rep.champion})" if rep.champion else " (first champion)") + ".")
        from weimeng.audit_hooks import audit_promotion

        con.print("  " + audit_promotion(version=rep.challenger, by=by, reason=reason, forced=bool(rep.forced),
                                         previous=rep.champion))
        mc, mp = rep.challenger_metrics, rep.champion_metrics
        if mc:
            con.print(f"  challenger AUC {_fmt(mc.get('roc_auc'))}, precision@capacity "
                      f"{_fmt(mc.get('precision_at_capacity'))}" + (
                          f"; champion AUC {_fmt(mp.get('roc_auc'))}, precision@capacity "
                          f"{_fmt(mp.get('precision_at_capacity'))}" if mp else ""))


@model_app.command("rollback")
def rollback_command(
    reason: str | None = typer.Option(None, "--reason", help="理由 why"),
    by: str | None = typer.Option(None, "--by", help="操作人 who"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
) -> None:
    """回滚到上一任现任模型 Restore the previous champion."""
    from rich.console import Console

    with _clean_errors():
        uri = _tracking_uri(tracking_uri)
        quiet_mlflow()
        from training.promotion import rollback

        r = rollback(tracking_uri=uri, reason=reason, by=by)
        Console().print(f"[green]已回滚[/] rolled back: champion v{r['from']} -> v{r['to']} (by {r['by']}).")


@model_app.command("list")
def list_command(
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
) -> None:
    """列出已登记版本 List registered versions with aliases and test metrics."""
    from rich.console import Console
    from rich.table import Table

    with _clean_errors():
        uri = _tracking_uri(tracking_uri)
        quiet_mlflow()
        from training.registry import list_versions

        df = list_versions(uri)
        con = Console()
        if df.empty:
            con.print("尚无登记的模型 / no registered versions yet: run `weimeng train`.")
            return
        t = Table(title="weimeng-escalation 已登记版本 registered versions")
        cols = ["version", "aliases", "created", "roc_auc", "precision_at_capacity", "fairness_flags", "promoted_by"]
        for c in cols:
            t.add_column(c)
        for r in df.itertuples():
            t.add_row(*["" if getattr(r, c) is None else str(getattr(r, c)) for c in cols])
        con.print(t)
