"""The `weimeng` command. Thin: each sub-command parses arguments and calls one package function.

Heavy libraries (mlflow, evidently, bentoml, lightgbm, duckdb) are imported inside command bodies so
that `weimeng --help` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from weimeng.errors import WeimengGroup

app = typer.Typer(
    cls=WeimengGroup,
    name="weimeng",
    help="未萌 Weimeng：社区矛盾纠纷风险预警（规则 + 可解释的梯度提升模型）。Early warning for community disputes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console():
    from rich.console import Console

    return Console()


@app.command()
def simulate(
    people: int = typer.Option(100_000, "--people", help="人数 / number of people"),
    days: int = typer.Option(730, "--days", help="模拟天数 / days to simulate"),
    seed: int = typer.Option(42, "--seed", help="随机种子 / seed (same seed, same world)"),
    out: Path | None = typer.Option(None, "--out", help="输出目录 / output folder (default: $WEIMENG_HOME/world)"),
    start_date: str = typer.Option("2024-01-01", "--start", help="起始日期 / first simulated day"),
    scenario: str = typer.Option("none", "--scenario",
                                 help="漂移场景 / drift scenario: none | labour_surge | recording_change"),
    scenario_day: int | None = typer.Option(None, "--scenario-day", help="场景开始日（默认结束前120天）"),
) -> None:
    """模拟合成世界 / Generate the synthetic Sichuan world (tables as Parquet + a separate oracle)."""
    from common.settings import Settings
    from features.simulate import simulate as run

    out = out or Settings.from_env().world_dir
    summary = run(people=people, days=days, seed=seed, out=out, start_date=start_date, scenario=scenario,
                  scenario_day=scenario_day)
    con = _console()
    con.print(f"[bold green]已生成合成世界[/] → {out}  ({summary['seconds']} s)")
    con.print(f"  人员 {summary['people']:,}，涉警人员 {summary['involved_people']:,}，"
              f"警情 {summary['tables']['incidents']:,}，纠纷 {summary['tables']['disputes']:,}，"
              f"结局事件 {summary['outcomes']:,}")
    con.print(f"  oracle (仅用于评估 / evaluation only): {out / 'oracle' / 'hazard.parquet'}")


@app.command()
def features(
    data: Path = typer.Option(..., "--data", help="数据目录 / data folder (a world)"),
    as_of: str = typer.Option(..., "--as-of", help="时点 / as-of date YYYY-MM-DD (events strictly before)"),
    out: Path = typer.Option(..., "--out", help="输出 Parquet 文件 / output .parquet"),
    engine: str = typer.Option("duckdb", "--engine", help="计算引擎 / engine: duckdb | spark (docs/scale.md)"),
    spark_remote: str = typer.Option(
        "local", "--spark-remote",
        help="Spark Connect 地址 / sc://host:port; local = 本机 Sail 服务 (a local Sail server)"),
    prepared: Path | None = typer.Option(
        None, "--prepared",
        help="Spark 读取的预处理数据目录 / folder the cluster reads the prepared relations from "
             "(default DATA/prepared)"),
) -> None:
    """计算时点特征 / Compute point-in-time feature vectors for everyone with records."""
    from features.errors import EngineError
    from features.store import EventStore, as_timestamp

    as_timestamp(as_of)  # a bad date fails before the data is read
    if engine not in ("duckdb", "spark"):
        raise EngineError(f"未知的计算引擎 {engine!r} / unknown engine; use duckdb or spark.")
    store = EventStore.open(data)
    if engine == "spark":
        frame = _spark_features(store, as_of, spark_remote, prepared or data / "prepared")
    else:
        frame = store.features(as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    con = _console()
    summary = store.report.summary()
    bad = summary[(summary["dropped"] > 0) | (summary["fields_nulled"] > 0)]
    con.print(f"[bold green]特征已写出[/] → {out}: {len(frame):,} 人 × {frame.shape[1] - 2} 个特征 (as of {as_of})")
    if len(bad):
        con.print(f"[yellow]隔离记录 / quarantined:[/] {int(bad['dropped'].sum()):,} 行被隔离，"
                  f"{int(bad['fields_nulled'].sum()):,} 个字段被置空；详见 {data / 'quarantine'}")


def _spark_features(store, as_of: str, remote: str, prepared: Path):
    """Validate and prepare here (DuckDB), compute the features on Spark from the prepared Parquet."""
    import contextlib

    from features.spark import SparkFeatures, local_server

    store.write_prepared(prepared)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(local_server()) if remote == "local" else remote
        engine = SparkFeatures(url, prepared)
        stack.callback(engine.close)
        _console().print(f"Spark 引擎 / Spark engine: {'本机 Sail 服务' if remote == 'local' else url}")
        return engine.features(as_of)


@app.command()
def demo(
    home: Path | None = typer.Option(
        None, "--home", help="演示数据目录 / where the demo writes (default: WEIMENG_HOME or ./weimeng-data)"),
    people: int = typer.Option(200_000, "--people", help="人数 / number of people"),
    days: int = typer.Option(730, "--days", help="模拟天数 / days"),
    seed: int = typer.Option(42, "--seed"),
    port: int = typer.Option(8600, "--port", help="审核台端口 / console port"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="结束后启动审核台并等待 / keep the console running"),
) -> None:
    """端到端演示 / The end-to-end demo: simulate → features → rules → train → promote → score → alerts →
    review → push → inbox → outcomes → monitor → report → console."""
    import time as _time

    from common.settings import Settings
    from weimeng.demo import DemoConfig, run_demo

    con = _console()
    con.rule("[bold]未萌 Weimeng 演示 / demo")
    settings = Settings.from_env(home=home)
    result = run_demo(DemoConfig(home=settings.home, people=people, days=days, seed=seed, port=port, serve=serve,
                                 settings=settings), echo=con.print)
    con.rule("[bold green]完成 / done")
    from rich.table import Table

    summary = Table(title="演示小结 / summary", show_lines=False)
    summary.add_column("步骤 step", overflow="fold")
    summary.add_column("结果 outcome", overflow="fold")
    summary.add_column("用时 time", no_wrap=True)
    for name, outcome, seconds in result.steps:
        summary.add_row(name, outcome, f"{seconds:.1f} 秒")
    con.print(summary)
    for name, path in result.artefacts.items():
        con.print(f"  {name}: {path}")
    if result.logins:
        con.print("\n[bold]演示账号 / demo logins[/]（均为演示账号，界面带“演示”标记）")
        for line in result.logins:
            con.print(f"  {line}")
    if result.console is not None:
        con.print(f"\n[bold]审核台 console[/]: {result.console.url}")
        con.print(f"[bold]网格员收件箱 inbox page[/]: {result.console.inbox_url}（需收件箱令牌；见 docs/alerts.md）")
        con.print("领导报告在审核台 /reports 下（leadership/admin 角色）。按 Ctrl-C 退出 / press Ctrl-C to stop.")
        try:
            while True:
                _time.sleep(3600)
        except KeyboardInterrupt:
            result.console.stop()


@app.command()
def catalog() -> None:
    """特征目录 / Print the feature catalog (name, Chinese label, unit, explanation template)."""
    from rich.table import Table

    from features.catalog import CATALOG, CATALOG_VERSION

    table = Table(title=f"特征目录 feature catalog {CATALOG_VERSION}")
    for col in ("name", "标签", "单位", "解释模板"):
        table.add_column(col)
    for f in CATALOG.values():
        table.add_row(f.name, f.label, f.unit, f.template)
    _console().print(table)


from weimeng.commands import alerts as alerts_cmd  # noqa: E402  (thin: heavy imports inside commands)
from weimeng.commands import console as console_cmd  # noqa: E402
from weimeng.commands import loop as loop_cmd  # noqa: E402
from weimeng.commands import policy as policy_cmd  # noqa: E402
from weimeng.commands import rules as rules_cmd  # noqa: E402
from weimeng.commands import serve as serve_cmd  # noqa: E402
from weimeng.commands import train as train_cmd  # noqa: E402
from weimeng.commands.monitor import monitor_command, report_command  # noqa: E402

app.add_typer(rules_cmd.app, name="rules")
app.add_typer(policy_cmd.policy_app, name="policy")
app.command(name="train")(train_cmd.train_command)
app.add_typer(train_cmd.model_app, name="model")
app.add_typer(alerts_cmd.db_app, name="db")
app.add_typer(alerts_cmd.alerts_app, name="alerts")
app.command(name="push-worker")(alerts_cmd.push_worker_command)
app.command(name="console")(console_cmd.console_command)
app.add_typer(console_cmd.users_app, name="users")
app.add_typer(console_cmd.audit_app, name="audit")
app.command(name="serve")(serve_cmd.serve_command)
app.command(name="evaluate-loop")(loop_cmd.evaluate_loop_command)
app.command(name="score")(serve_cmd.score_command)
app.add_typer(serve_cmd.keys_app, name="keys")
app.command(name="monitor")(monitor_command)
app.command(name="report")(report_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
