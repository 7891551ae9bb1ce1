"""Render a :class:`~rules.backtesting.BacktestResult`: rich terminal tables, Markdown and HTML.

Chinese first, English second, as everywhere users read. Numbers: precision and recall as
percentages with one decimal, lift with two, "—" where undefined (no hits, no positives).
"""

from __future__ import annotations

import html
import math

from common.levels import LEVEL_NAMES
from features.catalog import RISK_CATEGORIES

__all__ = ["to_markdown", "to_html", "print_rich", "rule_table", "overall_table"]


def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x, digits=2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


_SHORT_CATEGORY = {"repeat_dispute": "重复报警", "family_emotion": "婚恋家事", "retaliation": "报复倾向",
                   "harm_risk": "肇事肇祸"}


def rule_table(result, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    """Per-rule rows; ``compact`` (terminal) drops the title and uses short category names."""
    head = ["规则 rule", "名称 title", "类别 category", "等级 level", "命中 hits", "人数 people", "命中且出事 TP",
            "精确率 precision", "召回率 recall", "提升 lift"]
    rows = []
    for r in result.per_rule.itertuples():
        title = r.title + ("（事件触发）" if r.needs_event else "")
        cat = _SHORT_CATEGORY.get(r.category, r.category) if compact else RISK_CATEGORIES.get(r.category, r.category)
        rid = r.rule_id + ("*" if compact and r.needs_event else "")
        rows.append([rid, title, cat, LEVEL_NAMES[r.level], str(r.hits), str(r.people), str(r.true_positives),
                     _pct(r.precision), _pct(r.recall), _num(r.lift)])
    if compact:
        head = [h.split(" ")[0] for h in head]
        head.pop(1)
        rows = [row[:1] + row[2:] for row in rows]
    return head, rows


def overall_table(result, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    head = ["范围 scope", "命中 hits", "人数 people", "命中且出事 TP", "精确率 precision", "召回率 recall", "提升 lift"]
    if compact:
        head = [h.split(" ")[0] for h in head]
    rows = [[r.scope.split(" ")[0] if compact else r.scope, str(r.hits), str(r.people), str(r.true_positives),
             _pct(r.precision), _pct(r.recall), _num(r.lift)] for r in result.overall.itertuples()]
    return head, rows


def _overlap_rows(result, min_jaccard: float = 0.0):
    ov = result.overlap
    pairs = []
    ids = list(ov.index)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            v = ov.loc[a, b]
            if isinstance(v, float) and not math.isnan(v) and v > min_jaccard:
                pairs.append((a, b, v))
    pairs.sort(key=lambda t: -t[2])
    return pairs


def _summary_lines(result) -> list[str]:
    g = result.grid_load_summary
    lines = [
        f"规则集 rule set: {result.ruleset_name} v{result.ruleset_version}"
        + ("（各规则最新版本回放全部历史 / newest versions over the whole window）" if result.latest
           else "（各快照使用当日生效的规则版本 / versions in force at each snapshot）"),
        f"快照 snapshots: {len(result.snapshots)} 个（{result.snapshots[0].date()} 至 "
        f"{result.snapshots[-1].date()}，每月一次）"
        + (f"；跳过 {len(result.skipped_snapshots)} 个（{result.horizon_days} 天观察期超出数据范围，数据止于 "
           f"{result.data_end.date()}）" if result.skipped_snapshots else ""),
        f"人次 person-snapshots: {result.n_person_snapshots}；{result.horizon_days} 天内发生民转刑/极端事件 positives: "
        f"{result.n_positive}（基础率 base rate {_pct(result.base_rate)}）",
        f"网格预警负荷 alerts per grid per week: 平均 mean {_num(g.get('mean_per_week'))}，中位 median "
        f"{_num(g.get('median_per_week'))}，P95 {_num(g.get('p95_per_week'))}，最高 max {_num(g.get('max_per_week'))}"
        f"（{g.get('grids_with_alerts', 0)}/{g.get('grids', 0)} 个网格有预警；无法定位网格的预警 "
        f"{g.get('alerts_without_grid', 0)} 条）",
    ]
    return lines


def _md_table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def to_markdown(result) -> str:
    parts = [f"# 规则回测 Rules backtest — {result.ruleset_name} v{result.ruleset_version}", ""]
    parts += [f"- {line}" for line in _summary_lines(result)] + [""]
    parts += ["## 总体 Overall", "", _md_table(*overall_table(result)), ""]
    parts += ["## 各规则 Per rule", "", _md_table(*rule_table(result)), "",
              "事件触发的规则只在事件通道（新警情到达时）命中，月度快照中不会命中。 "
              "Rules marked 事件触发 need the incoming incident and do not fire on snapshots.", ""]
    pairs = _overlap_rows(result)
    parts += ["## 规则重叠 Overlap (Jaccard of flagged person-snapshots)", ""]
    parts += [_md_table(["规则 A", "规则 B", "Jaccard"], [[a, b, f"{v:.2f}"] for a, b, v in pairs[:30]])
              if pairs else "无重叠 none", ""]
    parts += ["## 网格每周预警负荷 Alert load per grid per week (top 20)", "",
              _md_table(["网格 grid", "预警 alerts", "每周 per week"],
                        [[r.grid_id, str(r.alerts), f"{r.alerts_per_week:.2f}"]
                         for r in result.grid_load.head(20).itertuples()]), ""]
    parts += ["## 各快照 Per snapshot", "",
              _md_table(["快照 snapshot", "人数 population", "出事 positives", "预警 flagged", "命中且出事 TP"],
                        [[f"{r.snapshot.date()}", str(r.population), str(r.positives), str(r.flagged),
                          str(r.true_positives)] for r in result.per_snapshot.itertuples()]), ""]
    return "\n".join(parts)


def _html_table(head, rows) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def to_html(result) -> str:
    pairs = _overlap_rows(result)
    sections = [
        "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in _summary_lines(result)) + "</ul>",
        "<h2>总体 Overall</h2>" + _html_table(*overall_table(result)),
        "<h2>各规则 Per rule</h2>" + _html_table(*rule_table(result)),
        "<h2>规则重叠 Overlap (Jaccard)</h2>" + (_html_table(["规则 A", "规则 B", "Jaccard"],
                                                        [[a, b, f"{v:.2f}"] for a, b, v in pairs[:30]])
                                             if pairs else "<p>无重叠 none</p>"),
        "<h2>网格每周预警负荷 Alert load per grid per week (top 20)</h2>" + _html_table(
            ["网格 grid", "预警 alerts", "每周 per week"],
            [[r.grid_id, str(r.alerts), f"{r.alerts_per_week:.2f}"] for r in result.grid_load.head(20).itertuples()]),
        "<h2>各快照 Per snapshot</h2>" + _html_table(
            ["快照 snapshot", "人数 population", "出事 positives", "预警 flagged", "命中且出事 TP"],
            [[f"{r.snapshot.date()}", str(r.population), str(r.positives), str(r.flagged), str(r.true_positives)]
             for r in result.per_snapshot.itertuples()]),
    ]
    title = html.escape(f"规则回测 Rules backtest — {result.ruleset_name} v{result.ruleset_version}")
    style = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
             "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
             "td:nth-child(-n+2){text-align:left}")
    return (f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body><h1>{title}</h1>{''.join(sections)}</body></html>")


def print_rich(result, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    console.print(f"[bold]规则回测 Rules backtest — {escape(result.ruleset_name)} "
                  f"v{escape(result.ruleset_version)}[/bold]")
    for line in _summary_lines(result):
        console.print("  " + line, markup=False)
    for title, (head, rows), n_left in (("总体 Overall", overall_table(result, compact=True), 1),
                                        ("各规则 Per rule（* 需事件触发 / needs an incident）",
                                         rule_table(result, compact=True), 3)):
        t = Table(title=title, show_lines=False)
        for i, h in enumerate(head):
            t.add_column(h, justify="left" if i < n_left else "right", no_wrap=True)
        for row in rows:
            t.add_row(*map(escape, row))
        console.print(t)
    pairs = _overlap_rows(result, 0.2)
    if pairs:
        t = Table(title="规则重叠 Overlap (Jaccard > 0.2)")
        for h in ("规则 A", "规则 B", "Jaccard"):
            t.add_column(h)
        for a, b, v in pairs[:15]:
            t.add_row(escape(a), escape(b), f"{v:.2f}")
        console.print(t)


