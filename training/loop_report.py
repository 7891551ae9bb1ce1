"""The closed-loop report: prevented outcomes per 100 visits per policy, over several seeds (issue 19).

Three measures of prevention, each against the no-system run of the same seed:

* **expected outcomes prevented** (the headline): the sum over the evaluation window (loop + tail) of every
  person's true daily hazard, no-system minus policy. It is what the outcomes would average to, so it
  carries no draw-of-outcomes noise; it still carries the world's own randomness after the first visit
  (the runs of one seed diverge), which the interval over seeds shows;
* **outcomes prevented** (realized): the outcome counts, no-system minus policy (noisier);
* **risk removed by the visits**: per visit, the visited person's and their counterparts' summed 90-day
  outcome probability just before the visit minus just after it (the state persisting): an attribution
  to the visits themselves, with little noise, but it ignores how the effect wears off.

Intervals are Student-t 95% intervals of the mean over seeds. Every policy of a seed runs on the same
world with common random numbers (``features.simulate._crn``), so comparisons between policies are
*paired* by seed: :func:`paired` gives, per comparison, the per-seed ratios and the t-interval of the
per-seed differences and ratios.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.loop import POLICIES, POLICY_LABELS, LoopConfig, LoopRun

__all__ = ["LoopResult", "summarize", "goals", "to_markdown", "to_html", "write_report", "prevention_section",
           "chart_svg", "GOALS", "SECTION_TITLE", "SYNTHETIC_LABEL",
           "prevention_section_html", "paired", "COMPARISONS", "visit_profile"]

GOALS = {"fused_over_rules": 1.3, "fused_over_oracle": 0.8, "aware_keeps": 0.95}
SECTION_TITLE = "预防效果（模拟）"
#: the label every rendering of the section carries (the leadership report refuses a section without it)
SYNTHETIC_LABEL = "合成世界的闭环模拟"
KIND_LABELS = {0: "暴力案件", 1: "个人极端事件", 2: "自伤"}
MODEL_LABELS = {"c1": "第一轮（干预前训练）", "exclude": "处理干预（剔除受干预标签窗口）",
                "naive": "朴素（不处理干预）"}
MEASURES = {"prevented_expected_per_100": "预防的期望结局", "risk_removed_per_100": "消除的风险"}
#: paired comparisons (policy, against): the goals' two and the deployable baselines
COMPARISONS = (("fused", "rules"), ("fused", "oracle"), ("fused", "model"), ("model", "rules"), ("rules", "random"),
               ("oracle", "rules"))   # the last: how far above rules-only any records-based score can reach


class LoopResult:
    """All runs (seed -> policy -> LoopRun) and the tables derived from them."""

    def __init__(self, runs: Mapping[int, Mapping[str, LoopRun]], cfg: LoopConfig, machine: str = "",
                 seconds: float = 0.0):
        self.runs = {int(k): dict(v) for k, v in runs.items()}
        self.cfg = cfg
        self.machine = machine
        self.seconds = seconds
        self.per_seed = summarize(self.runs)
        self.table = aggregate(self.per_seed)
        self.by_kind = outcomes_by_kind(self.runs)
        self.auc = auc_table(self.runs)
        self.paired = paired(self.per_seed)
        self.profile = visit_profile(self.runs)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.runs)

    @property
    def goals(self) -> list[dict]:
        return goals(self.per_seed, self.auc)


def _t95(n: int) -> float:
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
    return table.get(n - 1, 1.96) if n > 1 else float("nan")


def mean_ci(x) -> tuple[float, float, float]:
    """Mean and Student-t 95% interval over seeds."""
    x = np.asarray([v for v in x if np.isfinite(v)], dtype=float)
    if not len(x):
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    h = _t95(len(x)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return m, m - h, m + h


def summarize(runs: Mapping[int, Mapping[str, LoopRun]]) -> pd.DataFrame:
    """One row per seed and policy: visits, outcomes, and the three prevention measures per 100 visits."""
    rows: list[dict] = []
    for seed, by in runs.items():
        base = by.get("none")
        for p in POLICIES:
            r = by.get(p)
            if r is None:
                continue
            v = int(len(r.visits))
            removed = float((r.visits["risk_before"] - r.visits["risk_after"]).sum()) if v else 0.0
            row: dict[str, Any] = {"seed": seed, "policy": p, "alerts": r.alerts, "visits": v,
                                   "outcomes": int(len(r.outcomes)),
                   "expected_outcomes": r.expected_outcomes, "risk_removed": removed,
                   "mean_efficacy": float(r.visits["efficacy"].mean()) if v else float("nan"),
                   "mean_delay_days": (float((r.visits["visit_day"] - r.visits["alert_day"]).mean())
                                       if v else float("nan")),
                   "seconds": r.seconds}
            if base is not None:
                row["prevented_expected"] = base.expected_outcomes - r.expected_outcomes
                row["prevented"] = len(base.outcomes) - len(r.outcomes)
            for k in ("prevented_expected", "prevented", "risk_removed"):
                if k in row:
                    row[f"{k}_per_100"] = 100.0 * float(row[k]) / v if v else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def aggregate(per_seed: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for p in POLICIES:
        d = per_seed[per_seed["policy"] == p]
        if d.empty:
            continue
        row: dict = {"policy": p, "seeds": len(d), "visits": float(d["visits"].mean()),
                     "outcomes": float(d["outcomes"].mean()), "expected_outcomes": float(d["expected_outcomes"].mean())}
        for k in ("prevented_expected_per_100", "prevented_per_100", "risk_removed_per_100"):
            if k in d:
                row[k], row[f"{k}_lo"], row[f"{k}_hi"] = mean_ci(d[k])
        rows.append(row)
    return pd.DataFrame(rows)


def paired(per_seed: pd.DataFrame, measure: str = "prevented_expected_per_100") -> pd.DataFrame:
    """Comparisons paired by seed (the policies of one seed share the world's luck): per-seed ratios,
    the mean ratio with its t-interval, and the mean difference per 100 visits with its t-interval."""
    rows: list[dict[str, Any]] = []
    if per_seed.empty or measure not in per_seed:
        return pd.DataFrame(rows)
    piv = per_seed.pivot(index="seed", columns="policy", values=measure)
    for a, b in COMPARISONS:
        if not {a, b} <= set(piv.columns):
            continue
        ratio = (piv[a] / piv[b]).to_numpy(dtype=float)
        diff = (piv[a] - piv[b]).to_numpy(dtype=float)
        r, r_lo, r_hi = mean_ci(ratio)
        d, d_lo, d_hi = mean_ci(diff)
        rows.append({"policy": a, "against": b, "seeds": len(piv), "ratios": [float(x) for x in ratio],
                     "ratio": r, "ratio_lo": r_lo, "ratio_hi": r_hi, "diff": d, "diff_lo": d_lo, "diff_hi": d_hi,
                     "ratio_of_means": float(np.nanmean(piv[a]) / np.nanmean(piv[b]))})
    return pd.DataFrame(rows)


#: a visit whose people had less than this 90-day outcome probability in all was to someone already calm
CALM_RISK = 0.01


def visit_profile(runs) -> pd.DataFrame:
    """Who each policy visited (all seeds pooled): the 90-day risk at the visit, the share with an open
    dispute, of mentally ill persons, already calm (risk below :data:`CALM_RISK`), the delay
    from alert to visit and the efficacy."""
    rows = []
    for p in POLICIES:
        v = [by[p].visits for by in runs.values() if p in by and len(by[p].visits)]
        if not v:
            continue
        d = pd.concat(v, ignore_index=True)
        risk = d["risk_before"].astype(float)
        rows.append({"policy": p, "visits": len(d), "risk_mean": float(risk.mean()),
                     "risk_median": float(risk.median()),
                     "open_dispute": float((d["disputes"] > 0).mean()) if "disputes" in d else float("nan"),
                     "crisis": float(d["crisis"].astype(bool).mean()) if "crisis" in d else float("nan"),
                     "calm": float((risk < CALM_RISK).mean()),
                     "delay": float((d["visit_day"] - d["alert_day"]).mean()), "efficacy": float(d["efficacy"].mean()),
                     "removed_per_visit": float((d["risk_before"] - d["risk_after"]).mean())})
    return pd.DataFrame(rows)


def outcomes_by_kind(runs) -> pd.DataFrame:
    rows = []
    for seed, by in runs.items():
        for p, r in by.items():
            counts = r.outcomes["kind"].value_counts()
            rows.append({"seed": seed, "policy": p, **{KIND_LABELS[k]: int(counts.get(k, 0)) for k in KIND_LABELS}})
    d = pd.DataFrame(rows)
    if d.empty:
        return d
    return d.groupby("policy", sort=False)[list(KIND_LABELS.values())].mean().reindex(
        [p for p in POLICIES if p in set(d["policy"])])


def auc_table(runs) -> pd.DataFrame:
    """Per seed and model: mean soft AUC and ratio to the records oracle over the steps after the last
    retraining (the same evaluation days for every model)."""
    rows = []
    for seed, by in runs.items():
        r = by.get("fused")
        if r is None or r.auc is None or r.auc.empty:
            continue
        a = r.auc
        last = a.groupby("model")["day"].min().max()
        a = a[a["day"] >= last]
        for name, g in a.groupby("model"):
            rows.append({"seed": seed, "model": name, "auc": float(g["auc"].mean()),
                         "oracle_auc": float(g["oracle_auc"].mean()), "ratio": float(g["ratio"].mean()),
                         "days": len(g)})
    return pd.DataFrame(rows)


def goals(per_seed: pd.DataFrame, auc: pd.DataFrame) -> list[dict]:
    """The issue's goals, per seed (each seed must meet them), on both prevention measures."""
    out = []
    for measure, label in MEASURES.items():
        if measure not in per_seed:
            continue
        piv = per_seed.pivot(index="seed", columns="policy", values=measure)
        for other, k in (("rules", "fused_over_rules"), ("oracle", "fused_over_oracle")):
            if {"fused", other} <= set(piv.columns):
                r = piv["fused"] / piv[other]
                out.append({"goal": f"融合策略每百次走访{label} ≥ {GOALS[k]}× {POLICY_LABELS[other]}（每个种子）",
                            "measured": " / ".join(f"{x:.2f}×" for x in r), "met": bool((r >= GOALS[k]).all())})
    if auc is not None and not auc.empty:
        pv = auc.pivot(index="seed", columns="model", values="ratio")
        last = sorted(c for c in pv.columns if c.endswith("-exclude"))
        naive = sorted(c for c in pv.columns if c.endswith("-naive"))
        if "c1" in pv and last:
            keep = pv[last[-1]] / pv["c1"]
            txt = " / ".join(f"{x:.3f}" for x in keep)
            if naive:
                txt += "（朴素模型 " + " / ".join(f"{x:.3f}" for x in pv[naive[-1]] / pv["c1"]) + "）"
            out.append({"goal": f"两轮再训练后，处理干预的模型保持第一轮真值比 ≥ {GOALS['aware_keeps']}",
                        "measured": txt, "met": bool((keep >= GOALS["aware_keeps"]).all())})
    return out


# -- rendering -----------------------------------------------------------------------------------------
def _f(x, d=2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def _pct(x) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.0%}"


def _ci(row, k) -> str:
    return f"{_f(row[k])}（{_f(row[k + '_lo'])}–{_f(row[k + '_hi'])}）"


def _tables(res: LoopResult) -> list[tuple[str, list[str], list[list[str]]]]:
    t = res.table
    main = [[POLICY_LABELS[r["policy"]], f"{r['visits']:.0f}", f"{r['expected_outcomes']:.1f}",
             _ci(r, "prevented_expected_per_100") if r["policy"] != "none" else "—",
             _ci(r, "prevented_per_100") if r["policy"] != "none" else "—",
             _ci(r, "risk_removed_per_100") if r["policy"] != "none" else "—"] for _, r in t.iterrows()]
    tables = [("每百次走访的预防效果（各种子均值，95% 区间）",
               ["策略", "走访次数", "期望结局数", "每百次走访预防的期望结局", "每百次走访预防的实际结局",
                "每百次走访消除的风险"], main)]
    if not res.by_kind.empty:
        tables.append(("按结局类别的实际结局数（各种子均值）", ["策略", *res.by_kind.columns],
                       [[POLICY_LABELS[p], *[f"{v:.1f}" for v in row]] for p, row in res.by_kind.iterrows()]))
    if not res.paired.empty:
        tables.append(("策略两两比较（同一种子配对：各世界运气相同；每百次走访预防的期望结局）",
                       ["比较", "逐种子比值", "比值均值（95% 区间）", "均值之比", "差值均值（95% 区间）"],
                       [[f"{POLICY_LABELS[r['policy']]} ÷ {POLICY_LABELS[r['against']]}",
                         " / ".join(f"{x:.2f}" for x in r["ratios"]),
                         f"{_f(r['ratio'])}（{_f(r['ratio_lo'])}–{_f(r['ratio_hi'])}）", _f(r["ratio_of_means"]),
                         f"{_f(r['diff'])}（{_f(r['diff_lo'])}–{_f(r['diff_hi'])}）"]
                        for _, r in res.paired.iterrows()]))
    if not res.profile.empty:
        tables.append(("走访对象画像（各种子合计）",
                       ["策略", "走访", "走访前 90 天风险（均值）", "中位数", "有未结纠纷", "精神障碍患者",
                        f"已平稳（风险 < {CALM_RISK:.0%}）", "平均延迟（天）", "平均效力", "每次走访消除的风险"],
                       [[POLICY_LABELS[r["policy"]], str(r["visits"]), _f(r["risk_mean"], 3), _f(r["risk_median"], 3),
                         _pct(r["open_dispute"]), _pct(r["crisis"]), _pct(r["calm"]), _f(r["delay"], 1),
                         _f(r["efficacy"]), _f(r["removed_per_visit"], 4)] for _, r in res.profile.iterrows()]))
    ps = res.per_seed
    tables.append(("逐种子明细", ["种子", "策略", "预警", "走访", "平均延迟（天）", "平均效力", "实际结局", "期望结局",
                             "每百次走访预防的期望结局"],
                   [[str(r["seed"]), POLICY_LABELS[r["policy"]], str(r["alerts"]), str(r["visits"]),
                     _f(r["mean_delay_days"], 1), _f(r["mean_efficacy"]), str(r["outcomes"]),
                     _f(r["expected_outcomes"], 1), _f(r.get("prevented_expected_per_100", float("nan")))]
                    for _, r in ps.iterrows()]))
    if res.auc is not None and not res.auc.empty:
        def label(m: str) -> str:
            if m == "c1":
                return MODEL_LABELS["c1"]
            cycle, _, handling = m.partition("-")
            return f"第{cycle[1:]}轮 · {MODEL_LABELS[handling]}"
        tables.append(("再训练：模型对真实风险的 ROC-AUC 与真值上限之比（最后一轮后的各步均值）",
                       ["种子", "模型", "ROC-AUC", "真值上限 ROC-AUC", "比值"],
                       [[str(r["seed"]), label(r["model"]), _f(r["auc"], 3), _f(r["oracle_auc"], 3),
                         _f(r["ratio"], 3)] for _, r in res.auc.sort_values(["seed", "model"]).iterrows()]))
    tables.append(("目标", ["目标", "实测", "达成"], [[g["goal"], g["measured"], "是" if g["met"] else "否"]
                                                   for g in res.goals]))
    return tables


def _intro(res: LoopResult) -> list[str]:
    c = res.cfg
    return [
        "本节为合成世界中的闭环模拟结果，不是真实辖区的数据。",
        f"模拟世界 {c.people:,} 人，种子 {', '.join(map(str, res.seeds))}；"
        f"历史 {c.burn_in_days + c.pre_days} 天后开始预警，"
        f"预警期 {c.loop_days} 天（每 {c.step_days} 天一次研判），其后 {c.tail_days} 天只观察不预警。",
        f"各策略使用相同的走访预算（每网格每周 {c.budget.visits_per_grid_per_week:g} 次），审核通过 "
        f"{c.accept_share:.0%}，签收延迟 {c.ack_delay_days[0]}–{c.ack_delay_days[1]} 天；"
        f"{c.revisit_gap_days} 天内走访过的人不再预警。",
        "“预防的期望结局”= 同一种子无系统运行的期望结局数减去该策略的期望结局数（真实风险之和）。",
        "同一种子的各策略共用一套随机数（按纠纷、人员和日期取数）：未被走访改变的纠纷，在各策略下的经历完全相同，"
        "策略之间的差别只来自走访，因此按种子配对比较。",
    ]


def to_markdown(res: LoopResult) -> str:
    lines = ["# 闭环模拟：预防效果报告", "", *[f"- {x}" for x in _intro(res)], ""]
    for title, head, rows in _tables(res):
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    lines += ["![每百次走访预防的期望结局](prevention.svg)", "",
              f"运行耗时 {res.seconds / 60:.1f} 分钟（{res.machine}）。", ""]
    return "\n".join(lines)


def to_html(res: LoopResult) -> str:
    parts = ["<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>闭环模拟：预防效果</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}th{background:#f3f3f3}</style></head><body>",
             "<h1>闭环模拟：预防效果报告</h1><ul>", *[f"<li>{html.escape(x)}</li>" for x in _intro(res)], "</ul>",
             chart_svg(res)]
    for title, head, rows in _tables(res):
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr>"
                     + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts.append(f"<p>运行耗时 {res.seconds / 60:.1f} 分钟（{html.escape(res.machine)}）。</p></body></html>")
    return "\n".join(parts)


def chart_svg(res: LoopResult) -> str:
    """Bars: expected outcomes prevented per 100 visits per policy, with the 95% interval over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from training.evaluate import svg_text

    t = res.table[res.table["policy"] != "none"]
    k = "prevented_expected_per_100"
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    x = np.arange(len(t))
    ax.bar(x, t[k], color=["#1f4e79" if p == "fused" else "#8fa9c4" for p in t["policy"]])
    lo, hi = (t[k] - t[f"{k}_lo"]).to_numpy(), (t[f"{k}_hi"] - t[k]).to_numpy()
    ax.errorbar(x, t[k], yerr=np.nan_to_num(np.vstack([lo, hi])), fmt="none", ecolor="#333", capsize=4)
    ax.set_xticks(x, [POLICY_LABELS[p] for p in t["policy"]])
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("每百次走访预防的期望结局")
    ax.set_title(f"{SECTION_TITLE}：{len(res.seeds)} 个种子均值与 95% 区间", fontsize=10)
    out = svg_text(fig)
    plt.close(fig)
    return out


def prevention_section(res: LoopResult) -> str:
    """The leadership report's section 预防效果（模拟）, in Markdown: clearly labelled as synthetic."""
    t = res.table.set_index("policy")
    lines = [f"## {SECTION_TITLE}", "",
             f"> 以下数字来自{SYNTHETIC_LABEL}，用于比较预警策略，不代表任何真实辖区的成效。", ""]
    if "fused" in t.index:
        f = t.loc["fused"]
        lines.append(f"- 融合策略每 100 次走访预防约 {_f(f['prevented_expected_per_100'])} 起结局事件"
                     f"（民转刑、个人极端事件或自伤；期望值，{len(res.seeds)} 个模拟世界，"
                     f"95% 区间 {_f(f['prevented_expected_per_100_lo'])}–"
                     f"{_f(f['prevented_expected_per_100_hi'])}）。")
    for p in ("rules", "oracle", "random"):
        if p in t.index:
            lines.append(f"- {POLICY_LABELS[p]}：每 100 次走访预防约 {_f(t.loc[p, 'prevented_expected_per_100'])} 起。")
    lines += [f"- {x}" for x in _paired_lines(res)]
    lines += ["", "| 目标 | 实测 | 达成 |", "|---|---|---|"]
    lines += [f"| {g['goal']} | {g['measured']} | {'是' if g['met'] else '否'} |" for g in res.goals]
    return "\n".join(lines) + "\n"


def _paired_lines(res: LoopResult) -> list[str]:
    out = []
    for _, r in res.paired.iterrows():
        if r["policy"] == "fused" and r["against"] in ("rules", "oracle"):
            out.append(f"融合策略与{POLICY_LABELS[r['against']]}同一世界配对比较：每个模拟世界的比值 "
                       + " / ".join(f"{x:.2f}" for x in r["ratios"])
                       + f"，均值 {_f(r['ratio'])}（95% 区间 {_f(r['ratio_lo'])}–{_f(r['ratio_hi'])}）。")
    return out


def prevention_section_html(res: LoopResult) -> str:
    """The same section as HTML, for the leadership report (monitoring.report ``prevention_html``)."""
    t = res.table.set_index("policy")
    items = []
    for p in ("fused", "rules", "oracle", "random"):
        if p in t.index:
            r = t.loc[p]
            k = "prevented_expected_per_100"
            items.append(f"<li>{POLICY_LABELS[p]}：每 100 次走访预防约 {_f(r[k])} 起"
                         f"（95% 区间 {_f(r[k + '_lo'])}–{_f(r[k + '_hi'])}）</li>")
    goals_rows = "".join(f"<tr><td>{html.escape(g['goal'])}</td><td>{html.escape(g['measured'])}</td>"
                         f"<td>{'是' if g['met'] else '否'}</td></tr>" for g in res.goals)
    return (f"<h2>{SECTION_TITLE}</h2><p class='muted'>以下数字来自{SYNTHETIC_LABEL}（{len(res.seeds)} 个模拟世界），"
            "用于比较预警策略，不代表任何真实辖区的成效。</p>" + chart_svg(res) + "<ul>" + "".join(items)
            + "".join(f"<li>{html.escape(x)}</li>" for x in _paired_lines(res)) + "</ul>"
            + "<table><tr><th>目标</th><th>实测</th><th>达成</th></tr>" + goals_rows + "</table>")


def write_report(res: LoopResult, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "prevention.md", "html": out / "prevention.html", "svg": out / "prevention.svg",
             "per_seed": out / "per_seed.csv", "visits": out / "visits.csv", "section": out / "section.md",
             "section_html": out / "section.html"}
    paths["markdown"].write_text(to_markdown(res), encoding="utf-8")
    paths["html"].write_text(to_html(res), encoding="utf-8")
    paths["svg"].write_text(chart_svg(res), encoding="utf-8")
    paths["section"].write_text(prevention_section(res), encoding="utf-8")
    paths["section_html"].write_text(prevention_section_html(res), encoding="utf-8")
    res.per_seed.to_csv(paths["per_seed"], index=False)
    visits = [r.visits.assign(seed=s, policy=p) for s, by in res.runs.items() for p, r in by.items() if len(r.visits)]
    (pd.concat(visits, ignore_index=True) if visits else pd.DataFrame()).to_csv(paths["visits"], index=False)
    return paths
