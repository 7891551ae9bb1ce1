"""`weimeng rules ...`: check a rule file, backtest a rule set, explain one person's hits.

Thin wrappers over the ``rules`` package. Heavy imports (pandas, durable-rules, the feature store)
happen inside the commands so ``weimeng --help`` stays fast. Bad input prints one clear message
(Chinese first) and exits with code 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import typer

from common.errors import BadInput, NotFound
from weimeng.errors import WeimengGroup

app = typer.Typer(cls=WeimengGroup, help="规则集：校验、回测、解释 / rule sets: check, backtest, explain.",
                  no_args_is_help=True)


def _date(value: str, option: str):
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = None
    if ts is None or ts is pd.NaT:
        raise BadInput(f"日期无效 / invalid date for {option}: {value!r}; 请写成 YYYY-MM-DD, e.g. 2025-06-01.",
                       field=option)
    return ts


def _load(ruleset: Path | None):
    from rules import load_ruleset

    return load_ruleset(ruleset)  # a RuleFileError lists every problem


def _open_store(data: Path):
    if not data.is_dir():
        raise BadInput(f"数据目录不存在 / data directory not found: {data}. 先运行 `weimeng simulate --out DIR`.",
                       field="--data")
    from features.errors import FeaturesError
    from features.store import EventStore

    try:
        return EventStore.open(str(data))
    except (FeaturesError, OSError) as exc:
        raise BadInput(f"无法打开数据目录 / cannot open the data directory {data}: {exc}", field="--data") from exc


@app.command("check")
def check(file: Path = typer.Argument(..., help="规则文件 (YAML) / rule file")) -> None:
    """校验规则文件并列出其中的规则 / validate a rule file and list its rules."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from common.levels import LEVEL_NAMES
    from features.catalog import RISK_CATEGORIES

    rs = _load(file)
    t = Table(title=escape(f"{rs.name} v{rs.version}（{len(rs.rules)} 条规则 / rules）"))
    for h in ("规则 rule", "版本 v", "类别 category", "等级 level", "紧急 urgent", "生效 effective", "条件 condition"):
        t.add_column(h)
    for r in rs.rules:
        t.add_row(r.id, str(r.version), RISK_CATEGORIES[r.category], LEVEL_NAMES[r.level], "是" if r.urgent else "",
                  f"{r.effective_from} ~ {r.effective_until or ''}", escape(str(r.condition)))
    console = Console()
    console.print(t)
    missing = sorted(set(RISK_CATEGORIES) - {r.category for r in rs.rules})
    if missing:
        console.print(f"[yellow]提示 note: 未覆盖的类别 categories without rules: {missing}[/yellow]")
    console.print(f"[green]规则文件有效 / rule file OK:[/green] {escape(str(file))}", highlight=False)


@app.command("backtest")
def backtest_cmd(
    data: Path = typer.Option(..., "--data", help="数据目录（一个 world）/ data directory"),
    ruleset: Path | None = typer.Option(None, "--ruleset", help="规则文件，默认内置规则集 / rule file"),
    date_from: str = typer.Option(..., "--from", help="首个快照日期 / first snapshot, YYYY-MM-DD"),
    date_to: str = typer.Option(..., "--to", help="最后快照日期上限 / last snapshot at or before, YYYY-MM-DD"),
    out: Path | None = typer.Option(None, "--out", help="报告输出目录（Markdown + HTML）/ report folder"),
    horizon: int = typer.Option(90, "--horizon", min=1, help="结局观察期（天）/ outcome horizon in days"),
    latest: bool = typer.Option(False, "--latest", help="各规则最新版本回放全部历史 / replay the newest "
                                                        "version of every rule over the whole window"),
) -> None:
    """按月快照回测规则集：精确率、召回率、重叠、网格负荷 / monthly-snapshot backtest."""
    from rules import RulesError
    from rules.backtesting import backtest

    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    rs = _load(ruleset)
    store = _open_store(data)
    try:
        result = backtest(store, rs, start, end, horizon_days=horizon, latest=latest)
    except RulesError as exc:
        raise BadInput(f"回测失败 / backtest failed: {exc}") from exc
    result.print()
    if out is not None:
        for p in result.write(out):
            typer.echo(f"已写入 written: {p}")


@app.command("explain")
def explain(
    data: Path = typer.Option(..., "--data", help="数据目录 / data directory"),
    person: str = typer.Option(..., "--person", help="人员编号 / person id"),
    as_of: str = typer.Option(..., "--as-of", help="时间点 / as-of date, YYYY-MM-DD"),
    ruleset: Path | None = typer.Option(None, "--ruleset", help="规则文件，默认内置规则集 / rule file"),
) -> None:
    """列出某人在某时点命中的规则及原因 / which rules fire for one person, and why."""
    import pandas as pd
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from common.levels import LEVEL_NAMES
    from features.catalog import RISK_CATEGORIES
    from rules import RulesError, evaluate_batch
    from rules._fields import format_value, normalize_scalar

    ts = _date(as_of, "--as-of")
    rs = _load(ruleset)
    store = _open_store(data)
    persons = store.table("persons")
    if person not in set(persons["person_id"]):
        raise NotFound(f"未找到人员 / unknown person {person!r} in {data}.", field="--person")
    try:
        vector = dict(store.online_vector(person, ts))
        frame = pd.DataFrame([{"person_id": person, "as_of": ts, **vector}])
        hits = evaluate_batch(rs, frame, strict=False)
    except (RulesError, KeyError, ValueError) as exc:
        raise BadInput(f"无法计算 / cannot evaluate: {exc}") from exc

    console = Console()
    console.print(f"[bold]{escape(person)}[/bold] @ {ts.date()} — 规则集 {escape(rs.name)} v{escape(rs.version)}",
                  highlight=False)
    if len(hits):
        t = Table(title=f"命中 {len(hits)} 条规则 / rules fired")
        for h in ("规则 rule", "等级 level", "类别 category", "紧急 urgent", "原因 why"):
            t.add_column(h)
        for h in hits.itertuples():
            t.add_row(escape(f"{h.rule_id} v{h.rule_version}"), LEVEL_NAMES[h.level], RISK_CATEGORIES[h.category],
                      "是" if h.urgent else "", escape(h.explanation))
        console.print(t)
    else:
        console.print("未命中任何规则 / no rule fires.")
    t = Table(title="各规则所用事实 / facts each rule looks at (snapshot rules only; event rules need an incident)")
    for h in ("规则 rule", "命中 fired", "条件 condition", "当前取值 values"):
        t.add_column(h)
    fired = set(hits["rule_id"]) if len(hits) else set()
    for r in rs.effective(ts):
        vals = []
        for f in sorted(r.features_used):
            try:
                v = normalize_scalar(r.specs[f], vector.get(f))
            except TypeError:
                v = vector.get(f)
            vals.append(f"{f}={format_value(r.specs[f], v) if not isinstance(v, str) else v}")
        t.add_row(escape(r.id), "是" if r.id in fired else ("需事件" if r.needs_event else ""),
                  escape(str(r.condition)), escape(", ".join(vals)))
    console.print(t)
