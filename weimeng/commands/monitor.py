"""`weimeng monitor`: drift, data quality, rule hit rates and matured-window quality."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["monitor_command", "report_command"]


def monitor_command(
    data: Path = typer.Option(..., "--data", help="数据目录 / data folder"),
    start: str = typer.Option(..., "--from", help="当前窗口起 / current window start (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="当前窗口止 / current window end (YYYY-MM-DD)"),
    out: Path | None = typer.Option(None, "--out",
                                    help="报告目录 / report folder (default: $WEIMENG_HOME/monitoring)"),
    reference_from: str | None = typer.Option(None, "--reference-from",
                                                 help="参照窗口起（默认：冠军模型训练窗口）"),
    reference_to: str | None = typer.Option(None, "--reference-to", help="参照窗口止"),
    config: Path | None = typer.Option(None, "--config", help="阈值配置 YAML / thresholds"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
    no_model: bool = typer.Option(False, "--no-model", help="不加载模型 / skip prediction drift"),
    workspace: Path | None = typer.Option(None, "--workspace",
                                          help="Evidently 工作区 / workspace (default: $WEIMENG_HOME/evidently)"),
    no_workspace: bool = typer.Option(False, "--no-workspace", help="不记入 Evidently 工作区"),
) -> None:
    """监控漂移与数据质量 / Monitor drift and data quality; exit 3 when an alarm fires."""
    from rich.console import Console
    from rich.table import Table

    from common.settings import Settings
    from monitoring.run import run_monitor
    from monitoring.workspace import default_workspace

    out = out or Settings.from_env().monitoring_dir
    ws = None if no_workspace else (workspace or default_workspace())
    con = Console()
    # our errors (a bad window, too little data, an unreadable world) end in weimeng.errors: one line, exit 2
    s = run_monitor(data, start, end, out, reference_start=reference_from, reference_end=reference_to,
                    config=config, tracking_uri=tracking_uri, use_model=not no_model, workspace=ws)
    con.print(f"参照窗口 reference {s.reference[0].date()}..{s.reference[1].date()}，"
              f"当前窗口 current {s.current[0].date()}..{s.current[1].date()}")
    for note in s.notes:
        con.print(f"[dim]· {note}[/]")
    from monitoring.wording import feature_labels

    con.print(f"特征漂移比例 drifted features: {s.feature_drift.share_drifted:.0%}"
              f"（{feature_labels(s.feature_drift.drifted, limit=8)}）")
    if s.matured is not None and s.matured.pooled:
        p = s.matured.pooled
        con.print(f"成熟窗口 matured: ROC-AUC {p.get('roc_auc', float('nan')):.3f}, "
                  f"容量下精确率 precision@capacity {p.get('precision_at_capacity', float('nan')):.3f}")
    if s.alarms:
        t = Table(title="[bold red]告警 alarms")
        t.add_column("#")
        t.add_column("内容 what")
        for i, a in enumerate(s.alarms, 1):
            t.add_row(str(i), a)
        con.print(t)
    else:
        con.print("[bold green]无告警 / no alarms[/]")
    con.print(f"报告 reports: {out}/feature_drift.html, incident_drift.html, summary.json")
    if ws is not None:
        con.print(f"历史 history: DO_NOT_TRACK=1 evidently ui --workspace {ws}（本机离线查看 / local, offline）")
    raise typer.Exit(s.exit_code)


def report_command(
    data: Path = typer.Option(..., "--data", help="数据目录 / data folder"),
    period: str = typer.Option("monthly", "--period", help="weekly | monthly"),
    end: str | None = typer.Option(None, "--end",
                                   help="报告期末（不含）/ period end, exclusive (default: where the data ends)"),
    db: str | None = typer.Option(None, "--db",
                                  help="预警库 URL / alert store URL (default: WEIMENG_DATABASE_URL or SQLite)"),
    monitor: Path | None = typer.Option(None, "--monitor", help="weimeng monitor 的 summary.json"),
    out: Path | None = typer.Option(None, "--out", help="输出目录 / output folder (default: $WEIMENG_HOME/reports)"),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="同时导出 PDF（需要 Chromium）"),
    prevention: Path | None = typer.Option(None, "--prevention",
                                           help="附上闭环模拟的预防效果（模拟）章节：evaluate-loop 的报告目录"),
) -> None:
    """领导报告 / Leadership report (HTML + PDF) for a week or a month."""
    import pandas as pd
    from rich.console import Console

    from common.settings import Settings
    from features.store import EventStore
    from monitoring.report import build_leadership_report, load_prevention_section
    from serving.operations.alerts import database_url_from_env, make_engine

    out = out or Settings.from_env().reports_dir
    con = Console()
    section = load_prevention_section(prevention) if prevention is not None else None   # refuse early
    store = EventStore.open(data)
    engine = make_engine(db or database_url_from_env())
    res = build_leadership_report(out, period=period, store=store, engine=engine, monitor_summary=monitor,
                                  end=pd.Timestamp(end) if end else None, pdf=pdf, prevention_html=section)
    for line in res.summary_lines:
        con.print(f"· {line}")
    con.print(f"[bold green]报告已生成[/] {res.html}"
              + (f"，PDF {res.pdf}" if res.pdf else "（未生成 PDF：未安装 Chromium）"))
