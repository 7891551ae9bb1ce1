"""The leadership report (领导报告): one self-contained HTML page (and a PDF) per week or month.

Sections, each with a stable id so tests and readers can find them: ``summary`` (plain-language lines
at the top), ``volumes`` (alerts by prefecture and county, by level), ``response`` (review and
acknowledgement times, the funnel), ``escalation`` (graded-escalation steps by level and county,
:mod:`monitoring.escalation`), ``outcomes`` (what cadres reported), ``scorecard`` (派出所一网考, the
station scorecard of :mod:`serving.operations.alerts.scorecard`, ranked within each county, with its method),
``model`` (quality on every matured snapshot, a line over time), ``drift`` (the latest monitor run),
``fairness`` (ratios over time).

Everything a reader sees is Chinese: features by their catalog labels, rules by their titles
(:mod:`monitoring.wording`), no identifiers or raw values. The period is the data's own: it ends where the
records end (:func:`data_end`) unless ``end`` is given, and alerts belong to it by their ``as_of``.
Charts are inline SVG whose text is text (:mod:`monitoring.charts`); nothing is fetched from the network.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from monitoring import charts
from monitoring.errors import MonitorConfigError
from monitoring.funnel import STAGES, Funnel

__all__ = ["period_window", "build_leadership_report", "ReportResult", "SECTION_IDS", "data_end"]

SECTION_IDS = ("summary", "volumes", "response", "escalation", "outcomes", "scorecard", "model", "drift", "fairness")
CATEGORY_LABELS = {"repeat_dispute": "重复报警", "family_emotion": "婚恋家事", "retaliation": "报复倾向",
                   "harm_risk": "肇事肇祸", "unknown": "未分类"}


@dataclass
class ReportResult:
    html: Path
    pdf: Path | None
    summary_lines: list[str]


def period_window(period: str, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the week or month that ends at ``end`` (exclusive)."""
    end = pd.Timestamp(end).normalize()
    if period == "weekly":
        return end - pd.Timedelta(days=7), end
    if period == "monthly":
        return end - pd.DateOffset(months=1), end
    raise MonitorConfigError(f"period={period!r}: choose 'weekly' or 'monthly'")


def _esc(x) -> str:
    return html.escape(str(x))


def _table(df: pd.DataFrame, columns: dict[str, str], limit: int = 30) -> str:
    if df is None or len(df) == 0:
        return "<p class='muted'>无数据</p>"
    head = "".join(f"<th>{_esc(v)}</th>" for v in columns.values())
    rows = []
    for _, r in df.head(limit).iterrows():
        cells = []
        for c in columns:
            v = r.get(c)
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
                v = "—"
            elif isinstance(v, (bool, np.bool_)):
                v = "是" if v else "否"
            elif isinstance(v, (float, np.floating)):
                x = float(v)
                v = f"{x:.3f}" if abs(x) < 10 else f"{x:,.0f}"
            cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _fmt_hours(h) -> str:
    if h is None or h != h:
        return "—"
    return f"{h:.1f} 小时" if h < 48 else f"{h / 24:.1f} 天"


def _summary_lines(funnel: Funnel | None, monitor: dict | None, period_label: str) -> list[str]:
    from monitoring.wording import zh_group

    lines = []
    if funnel is not None and len(funnel.alerts):
        a = funnel.alerts
        t = funnel.totals()
        lv = a["level"].value_counts()
        lines.append(f"{period_label}共生成预警 {t['created']} 条（红色 {lv.get('red', 0)}、"
                     f"橙色 {lv.get('orange', 0)}、"
                     f"黄色 {lv.get('yellow', 0)}），其中紧急 {int(a['urgent'].sum())} 条。")
        lines.append(f"已审核 {t['reviewed']} 条，审核通过 {t['approved']} 条，"
                     f"送达网格员/干部/社区民警 {t['delivered']} 条，"
                     f"已签收 {t['acknowledged']} 条，已反馈走访结果 {t['outcome']} 条。")
        lines.append(f"审核用时中位数 {_fmt_hours(funnel.median_hours('review_hours'))}，"
                     f"签收用时中位数 {_fmt_hours(funnel.median_hours('ack_hours'))}。")
        if len(funnel.stale) or len(funnel.dead):
            lines.append(f"需关注：超期未签收 {len(funnel.stale)} 条，推送失败（死信）{len(funnel.dead)} 条。")
        top = funnel.by_region.groupby("prefecture")["created"].sum().sort_values(ascending=False).head(3)
        if len(top):
            lines.append("预警最多的市州：" + "、".join(f"{k}（{v}条）" for k, v in top.items()) + "。")
    else:
        lines.append(f"{period_label}没有生成预警（或预警库未连接）。")
    if monitor:
        status = "正常" if monitor.get("status") == "ok" else f"有 {len(monitor.get('alarms', []))} 项告警"
        lines.append(f"数据与模型监测：{status}。")
        pooled = (monitor.get("matured") or {}).get("pooled") or {}
        if pooled.get("precision_at_capacity") is not None:
            n_snap = len((monitor.get("matured") or {}).get("per_snapshot") or [])
            lines.append(f"结局观察期已满的 {n_snap} 个月度快照中，按处置能力推送的精确率为 "
                         f"{pooled['precision_at_capacity']:.1%}，"
                         f"区分度（ROC-AUC）{pooled.get('roc_auc', float('nan')):.3f}。")
        fair = pd.DataFrame((monitor.get("matured") or {}).get("fairness") or [])
        if len(fair) and "status" in fair:
            flagged = fair[fair["status"] == "flagged"]
            lines.append("公平性：各群体指标均在 0.8–1.25 区间内或差异不显著。" if flagged.empty else
                         "公平性：以下群体的指标超出 0.8–1.25 区间且差异显著：" +
                         "、".join(sorted(set(flagged["group"].map(zh_group)))[:6]) + "。")
    else:
        lines.append("本期未附数据与模型监测结果。")
    return lines


def period_budget(store, days: int, budget=None) -> int:
    """The non-urgent alerts the counties can act on in ``days``: each county's budget per scoring run
    (reviews and visits it can do, training.budget) scaled from the run's period to ``days``."""
    from training.budget import county_budgets, load_budget

    cfg = load_budget(budget)
    grids = store.table("grids")
    per_run = sum(county_budgets(grids["county_code"].astype(str).tolist(), cfg,
                                 grids["prefecture_code"].astype(str).tolist()).values())
    return int(round(per_run * days / cfg.period_days))


def _budget_line(funnel: Funnel, store, days: int) -> str:
    a = funnel.alerts
    non_urgent = int((~a["urgent"].astype(bool)).sum()) if len(a) else 0
    urgent = int(a["urgent"].astype(bool).sum()) if len(a) else 0
    return (f"本期非紧急预警 {non_urgent} 条 / 预算 {period_budget(store, days)} 条（按各区县审核与走访能力核定），"
            f"紧急预警 {urgent} 条不占预算。")


def _audit_line(engine) -> str:
    """The newest signed checkpoint of the audit log (kept outside the database), for the record."""
    from serving.operations.audit.anchor import CheckpointStore

    try:
        cp, problems = CheckpointStore.from_settings().newest(engine)
    except Exception:  # noqa: BLE001  (a report must not fail on its audit footnote)
        return "审计日志检查点：读取失败，请系统管理员核验审计日志。"
    if problems:
        return f"审计日志检查点：有 {len(problems)} 处异常，请系统管理员核验审计日志。"
    if cp is None:
        return "审计日志检查点：尚无（请系统管理员定期生成外部留存的检查点）。"
    return f"审计日志检查点：{cp.line()}（外部留存，可用于核验审计日志未被截断或改写）。"


def data_end(store) -> pd.Timestamp:
    """The data's own "today": the day after the latest recorded incident (a period ends there by default)."""
    from serving.operations.alerts.scorecard import data_end as _end

    end = _end(store)
    if end is None:
        raise MonitorConfigError("数据目录中没有警情记录，无法确定报告期 / no incidents: pass --end")
    return end


def _load_summary(monitor_summary) -> dict | None:
    if isinstance(monitor_summary, (str, Path)):
        p = Path(monitor_summary)
        if not p.exists():
            raise MonitorConfigError(f"{p}: 监测结果不存在 / monitor summary not found (run weimeng monitor first)")
        return json.loads(p.read_text(encoding="utf-8"))
    return monitor_summary


def _model_section(matured: dict) -> str:
    per = pd.DataFrame(matured.get("per_snapshot") or [])
    if not len(per):
        return "<p class='muted'>暂无结局观察期已满的快照（观察期 90 天）。</p>"
    per = per.sort_values("as_of")
    per["as_of"] = pd.to_datetime(per["as_of"]).dt.strftime("%Y-%m-%d")
    img = charts.line_over_time(per, "as_of", {"precision_at_capacity": "容量下精确率", "roc_auc": "区分度（ROC-AUC）"},
                                f"模型在已到期快照上的表现（{len(per)} 个月度快照）")
    note = ("<p class='muted'>每个点是一个月度快照：当时有记录的人员按冠军模型评分，90 天后对照实际结局。"
            "容量下精确率：按各地处置能力推送的人员中实际发生结局的比例。</p>")
    return img + note + _table(per, {"as_of": "快照日期", "rows": "人数", "positives": "发生结局", "roc_auc": "区分度",
                                     "precision_at_capacity": "容量下精确率", "recall_at_capacity": "容量下召回率",
                                     "brier": "布里尔分数"})


def _drift_section(m: dict) -> str:
    from monitoring.wording import alarm_text, feature_labels, rule_text

    alarms = m.get("alarms") or []
    items = m.get("alarm_items")
    texts = [alarm_text(i) for i in items] if items is not None else []
    cur, ref = m.get("current") or ["", ""], m.get("reference") or ["", ""]
    out = (f"<p>监测窗口 {_esc(cur[0])} 至 {_esc(cur[1])}，参照窗口 {_esc(ref[0])} 至 {_esc(ref[1])}。状态："
           f"<b class='{'ok' if not alarms else 'alarm'}'>{'正常' if not alarms else f'{len(alarms)} 项告警'}</b></p>")
    if texts:
        out += "<ul>" + "".join(f"<li>{_esc(x)}</li>" for x in texts[:15]) + "</ul>"
    elif alarms:
        out += "<p class='muted'>告警明细需重新运行数据与模型监测后显示。</p>"
    drifted = (m.get("feature_drift") or {}).get("drifted") or []
    out += f"<p>发生漂移的特征：{_esc(feature_labels(drifted, limit=20))}</p>"
    rates = pd.DataFrame(m.get("rule_rates") or [])
    if len(rates) and {"rule_id", "rate_reference", "rate_current"} <= set(rates.columns):
        rates = rates.assign(rule=rates["rule_id"].map(rule_text),
                             ref=rates["rate_reference"].map(lambda v: f"{v:.2%}"),
                             cur=rates["rate_current"].map(lambda v: f"{v:.2%}"),
                             verdict=rates.get("alarm", pd.Series(False, index=rates.index))
                             .map(lambda a: "告警" if a else "正常"))
        out += "<h3>规则命中率</h3>" + _table(rates, {"rule": "规则", "ref": "参照窗口", "cur": "当前窗口",
                                                      "verdict": "判定"}, limit=40)
    return out


def _fairness_section(matured: dict) -> str:
    from monitoring.wording import ATTRIBUTE_LABELS, FAIRNESS_STATUS, zh_group

    fair = pd.DataFrame(matured.get("fairness") or [])
    if not (len(fair) and "fpr_ratio" in fair):
        return "<p class='muted'>暂无可评估的公平性数据。</p>"
    g = fair[fair["attribute"] != "overall"].copy()
    g["group"] = g["group"].map(zh_group)
    g["as_of"] = pd.to_datetime(g["as_of"]).dt.strftime("%Y-%m-%d")
    pivot = g.groupby(["as_of", "group"])["fpr_ratio"].mean().unstack()
    keep = [c for c in pivot.columns if pivot[c].notna().sum() > 0][:8]
    frame = pivot[keep].reset_index()
    img = charts.line_over_time(frame, "as_of", {c: str(c) for c in keep}, "误报率比值（群体/总体）随时间",
                                "比值", band=(0.8, 1.25))
    latest = g[g["as_of"] == g["as_of"].max()].copy()
    latest["attribute"] = latest["attribute"].map(ATTRIBUTE_LABELS).fillna("其他")
    latest["status"] = latest["status"].map(FAIRNESS_STATUS).fillna("其他")
    return img + _table(latest, {"attribute": "维度", "group": "群体", "rows": "人数", "fpr_ratio": "误报率比",
                                 "fnr_ratio": "漏报率比", "precision_ratio": "精确率比", "status": "判定"})


def _scorecard_section(engine, store, start, end, out: Path, stem: str) -> tuple[str, str | None]:
    """The station scorecard table (first rows, per county), its method, and the full table as CSV."""
    from serving.operations.alerts.scorecard import StationIndex, station_scorecard

    card = station_scorecard(engine, StationIndex.from_event_store(store), start, end)
    shown = card.display()
    if not len(shown):
        return "<p class='muted'>本期没有派出所收到预警或开展调解。</p>", None
    csv = out / f"{stem}_scorecard.csv"
    shown.to_csv(csv, index=False, encoding="utf-8-sig")
    ranked = card.table[card.table["received"] > 0]
    line = None
    if len(ranked):
        best = ranked.sort_values(["score", "received"], ascending=False).head(3)
        line = ("派出所一网考：本期 " + f"{len(ranked)} 个派出所收到预警；综合得分最高的是 "
                + "、".join(f"{r.county}{r.station}（{r.score:.0f} 分）" for r in best.itertuples()
                           if not pd.isna(r.score)) + "。")
    limit = 60
    table = _table(shown, {c: c for c in shown.columns}, limit=limit)
    more = (f"<p class='muted'>共 {len(shown)} 个派出所，此处列出前 {limit} 个（按区县、县内排名），"
            f"完整表格见 {_esc(csv.name)}。</p>" if len(shown) > limit else "")
    method = "<div class='method'><h3>统计方法</h3><ul>" + "".join(
        f"<li>{_esc(x)}</li>" for x in card.method) + "</ul></div>"
    return table + more + method, line


def load_prevention_section(folder: str | Path) -> str:
    """The section 预防效果（模拟） that ``weimeng evaluate-loop`` wrote into its report folder
    (``section.html``), for ``build_leadership_report(prevention_html=...)``. Refuses a folder without it,
    or a section that does not carry the title and the label saying the figures are synthetic."""
    from training.loop_report import SECTION_TITLE, SYNTHETIC_LABEL

    path = Path(folder) / "section.html"
    if not path.is_file():
        raise MonitorConfigError(f"{folder}：未找到闭环模拟的报告（section.html）。请先运行 weimeng evaluate-loop "
                                 "--out 该目录 / no prevention section: run weimeng evaluate-loop --out DIR first.")
    text = path.read_text(encoding="utf-8")
    if SECTION_TITLE not in text or SYNTHETIC_LABEL not in text:
        raise MonitorConfigError(f"{path}：不是闭环模拟写出的预防效果章节（缺少标题或“合成世界”标注）/ not a "
                                 "prevention section written by evaluate-loop.")
    return text


def build_leadership_report(out_dir: str | Path, *, period: str, end=None, store, engine=None,
                            monitor_summary: dict | str | Path | None = None, pdf: bool = True,
                            now=None, prevention_html: str | None = None) -> ReportResult:
    """Write the report of the week or month that ends at ``end`` (exclusive; data time). Without ``end``
    the period ends with the data (:func:`data_end`), not with the wall clock: a report on a world whose
    records stop in 2025 covers the last month of 2025. ``prevention_html``: an optional section
    预防效果（模拟） from the closed-loop simulation (``training.loop_report.prevention_section_html``),
    appended last and labelled as synthetic."""
    from common.clock import format_beijing, utcnow
    from monitoring.funnel import alert_funnel

    start, end_ts = period_window(period, end if end is not None else data_end(store))
    last = (end_ts - pd.Timedelta(days=1)).date()
    label = f"{'本周' if period == 'weekly' else '本月'}（数据期间 {start.date()} 至 {last}）"
    summary = _load_summary(monitor_summary)
    funnel = alert_funnel(engine, store, start, end_ts, now=now, by="as_of") if engine is not None else None
    lines = _summary_lines(funnel, summary, label)
    if funnel is not None:
        lines.insert(1, _budget_line(funnel, store, (end_ts - start).days))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"leadership_{period}_{last}"
    sections = {sid: "" for sid in SECTION_IDS}
    if engine is not None:
        sections["scorecard"], card_line = _scorecard_section(engine, store, start, end_ts, out, stem)
        if card_line:
            lines.append(card_line)
        lines.append(_audit_line(engine))
    else:
        sections["scorecard"] = "<p class='muted'>未连接预警库，无法计算派出所一网考。</p>"

    # volumes
    if funnel is not None and len(funnel.alerts):
        a = funnel.alerts
        by_pref = a.pivot_table(index="prefecture", columns="level", values="id", aggfunc="count", fill_value=0)
        by_pref = by_pref.reindex(columns=["red", "orange", "yellow"], fill_value=0)
        by_pref["total"] = by_pref.sum(axis=1)
        by_pref = by_pref.sort_values("total", ascending=False).reset_index()
        volumes_img = charts.bar_by_level(by_pref, "prefecture", "各市州预警数量（按等级）")
        sections["volumes"] = (volumes_img
                               + _table(funnel.by_region.sort_values("created", ascending=False),
                                        {"prefecture": "市州", "county": "区县", "created": "生成", "approved": "通过",
                                         "delivered": "送达", "acknowledged": "签收", "outcome": "已反馈"}, limit=20))
        med = a[["review_hours", "ack_hours"]].median()
        funnel_rows = pd.DataFrame([{"stage": zh, "count": funnel.totals()[s]} for s, zh in STAGES])
        funnel_img = charts.hbar(funnel_rows["stage"], funnel_rows["count"], "预警处置漏斗", "条")
        sections["response"] = (
            f"<p>审核用时中位数 <b>{_fmt_hours(med['review_hours'])}</b>，"
            f"签收用时中位数 <b>{_fmt_hours(med['ack_hours'])}</b>。</p>"
            + funnel_img
            + _table(funnel.by_category.assign(category=funnel.by_category["category"].map(CATEGORY_LABELS)
                                               .fillna("其他")),
                     {"category": "类别", "created": "生成", "approved": "通过", "delivered": "送达",
                      "acknowledged": "签收", "outcome": "已反馈"})
            + f"<p>超期未签收 {len(funnel.stale)} 条；推送失败（死信）{len(funnel.dead)} 条。</p>")
        if len(funnel.outcomes):
            o = funnel.outcomes.sort_values("count", ascending=False)
            outcomes_img = charts.hbar(o["kind_label"], o["count"], "走访结果构成", "条", "#4daf4a")
            sections["outcomes"] = outcomes_img
        else:
            sections["outcomes"] = "<p class='muted'>本期尚无走访结果反馈。</p>"
    else:
        for sid in ("volumes", "response", "outcomes"):
            sections[sid] = "<p class='muted'>本期无预警数据。</p>"

    # model health, drift, fairness (from the monitor run)
    m = summary or {}
    matured = m.get("matured") or {}
    sections["model"] = _model_section(matured)
    sections["drift"] = _drift_section(m) if m else "<p class='muted'>本期未附监测结果。</p>"
    sections["fairness"] = _fairness_section(matured)

    if engine is not None:
        from monitoring.escalation import escalation_section

        sections["escalation"] = escalation_section(engine, start, end_ts, _table)
    else:
        sections["escalation"] = "<p class='muted'>本期未连接告警库。</p>"
    titles = {"summary": "摘要", "volumes": "预警数量与等级（按市州、区县）", "response": "响应与处置",
              "escalation": "逐级督办（按层级、区县）",
              "outcomes": "走访结果", "scorecard": "派出所一网考（按区县排名）", "model": "模型健康",
              "drift": "数据与模型漂移", "fairness": "公平性指标"}
    sections["summary"] = "<ul class='summary'>" + "".join(f"<li>{_esc(x)}</li>" for x in lines) + "</ul>"
    body = "".join(f"<section id='{sid}'><h2>{titles[sid]}</h2>{sections[sid]}</section>" for sid in SECTION_IDS)
    if prevention_html:  # the closed-loop simulation's section (issue 19); it carries its own heading
        body += f"<section id='prevention'>{prevention_html}</section>"
    title = f"未萌 社区矛盾纠纷风险预警 {'周报' if period == 'weekly' else '月报'}"
    made = format_beijing(utcnow() if now is None else now)
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:980px;margin:24px auto;color:#222;
padding:0 12px}}
h1{{font-size:24px}}h2{{font-size:19px;border-bottom:2px solid #d7301f;padding-bottom:4px;margin-top:32px}}
h3{{font-size:15px}}table{{border-collapse:collapse;font-size:13px;margin:8px 0}}
td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}}
th{{background:#f5f5f5}}td:first-child,th:first-child{{text-align:left}}figure.chart{{margin:0.5em 0}}
figure.chart svg{{max-width:100%;height:auto}}.method{{font-size:12px;color:#555}}
.muted{{color:#888}}.summary li{{margin:4px 0;font-size:15px}}.alarm{{color:#d7301f}}.ok{{color:#1a9641}}
footer{{color:#888;font-size:12px;margin-top:40px}}@media print{{section{{page-break-inside:avoid}}}}</style></head>
<body><h1>{title}</h1><p class="muted">{_esc(label)} · 生成于 {made}（北京时间）</p>
{body}<footer>本报告仅供内部研判参考；预警均经人工审核后推送，走访结果回流用于模型改进。数据为合成演示数据时不代表真实情况。</footer>
</body></html>"""
    html_path = out / f"{stem}.html"
    html_path.write_text(page, encoding="utf-8")
    pdf_path = html_to_pdf(html_path, out / f"{stem}.pdf") if pdf else None
    return ReportResult(html_path, pdf_path, lines)


def chromium_binary() -> str | None:
    from common.settings import Settings

    configured = Settings.from_env().chromium
    return str(configured) if configured else shutil.which("chromium") or shutil.which("chromium-browser")


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: int = 60) -> Path | None:
    """Print the page to PDF with headless Chromium; None when no Chromium is installed."""
    exe = chromium_binary()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    return pdf_path if pdf_path.exists() and pdf_path.stat().st_size > 0 else None
