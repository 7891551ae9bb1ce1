"""The model card (模型卡): Markdown and a self-contained HTML file, one per trained model.

The card states the data window, the split, the features, every test metric beside the rules-only
baseline and (on a simulated world) the oracles, the fairness audit with named groups, the limits and
the intended use. It claims nothing that was not measured in this run.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd

__all__ = ["render_card_markdown", "render_card_html", "write_card", "thresholds_section"]


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "—"
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)


def _table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in r) + " |")
    return "\n".join(lines)


_SCORER_LABELS = {"model": "模型 model", "rules_baseline": "规则基线 rules-only", "prior_rate": "先验 prior rate",
                  "oracle_full": "完全真值 full-hazard oracle", "oracle_records": "记录可达真值 records oracle"}


def render_card_markdown(ctx: dict) -> str:
    m = ctx["metrics"]
    src = ctx["source"]
    table = src.get("kind") == "table"
    lines = [
        f"# 模型卡 Model card: {ctx['model_name']} v{ctx.get('model_version', '?')}",
        "",
        f"- 训练时间 Trained: {ctx['trained_at']} · MLflow run `{ctx.get('run_id', '')}`",
        f"- 特征目录版本 Catalog version: `{src.get('catalog_version')}` · 规则集版本 Rule-set version: "
        f"`{src.get('ruleset_version')}`",
        f"- 数据来源 Data: {src.get('kind')} `{src.get('path')}` ({src.get('data_start')} .. {src.get('data_end')})",
        "",
        *(_byod_use_and_data(ctx) if src.get("kind") == "table" else _world_use_and_data(ctx)),
        "## 测试期指标 Test-period metrics",
        "",
        (f"Operating capacity: {src.get('capacity')} -> top **{ctx['k']}** rows per time value;" if table else
         f"Operating capacity: {ctx['capacity_per_grid_per_week']} alerts per grid per week -> top "
         f"**{ctx['k']}** people per snapshot;")
        + f" operating threshold (calibrated probability, chosen on validation) "
        f"**{_f(ctx['operating_threshold'], 4)}**.",
        "",
    ]
    rows = []
    for name, d in ctx["scorers"].items():
        rows.append({"scorer": _SCORER_LABELS.get(name, name), "ROC-AUC": _f(d.get("roc_auc")),
                     "PR-AUC": _f(d.get("pr_auc")), "precision@capacity": _f(d.get("precision_at_capacity")),
                     "recall@capacity": _f(d.get("recall_at_capacity")), "Brier": _f(d.get("brier"), 4)})
    lines += [_table(pd.DataFrame(rows)), ""]
    if m.get("lift_over_rules") is not None:
        lines.append(f"- 相对规则基线提升 Lift over the rules-only baseline at the same capacity: "
                     f"**{_f(m['lift_over_rules'], 2)}x** (precision {_f(m['precision_at_capacity'])} vs "
                     f"{_f(m.get('rules_precision_at_capacity'))}).")
    else:
        lines.append("- 规则基线不可用 No rules-only baseline was available for this data.")
    if m.get("auc_ratio_to_records_oracle") is not None:
        lines.append(f"- 与真值上限比较 Model AUC / records-oracle AUC = **{_f(m['auc_ratio_to_records_oracle'])}** "
                     f"(model {_f(m['roc_auc'])}, records oracle {_f(m.get('oracle_records_roc_auc'))}, full-hazard "
                     f"oracle {_f(m.get('oracle_full_roc_auc'))}). The records oracle is the best any score built "
                     "from the records could do; the full oracle also knows what no record shows.")
    lines += [f"- 校准 Mean predicted {_f(m['mean_predicted'], 4)} vs observed {_f(m['observed_rate'], 4)}; "
              f"Brier {_f(m['brier'], 4)}.", ""]
    for title, key in (("校准图 Calibration", "calibration_png"), ("ROC / PR", "curves_png"),
                       ("特征重要性 Feature importance (gain)", "importance_png")):
        if ctx.get(key):
            lines += [f"### {title}", "", f"![{title}]({Path(ctx[key]).name})", ""]
    lines += ["## 公平性审计 Fairness audit (at the operating capacity)", "",
              f"Ratios to the overall figure; bounds {ctx['fairness_bounds'][0]}–{ctx['fairness_bounds'][1]}. A metric "
              f"is judged in a group of at least {ctx['fairness_min_rows']} rows where the overall rate predicts at "
              f"least {ctx['fairness_min_expected_events']} events (false positives for FPR, misses for FNR, hits for "
              "precision, outcomes for calibration); otherwise the group is `too_small` or `partly_judged`. A judged "
              "ratio outside the bounds is a **flag** when noise is an unlikely explanation "
              f"(p < {ctx['fairness_alpha']}), else `outside_within_noise`. "
              + ("Audit attributes are the table's protected and audit-group columns; never model features."
                 if table else "Audit attributes are residence-based and never model features."), ""]
    fair = ctx["fairness"]
    if len(fair) > 1:
        view = fair.copy()
        keep = ["attribute", "group", "rows", "positives", "flagged", "fpr", "fnr", "precision", "mean_predicted",
                "observed_rate", "fpr_ratio", "fnr_ratio", "precision_ratio", "calibration_ratio", "status", "outside",
                "flags"]
        view = view[[c for c in keep if c in view]]
        for c in view.columns:
            if view[c].dtype.kind == "f":
                view[c] = view[c].map(lambda v: _f(v, 3))
        lines += [_table(view), ""]
    flags = ctx["fairness_flags"]
    lines.append("**超出范围且非噪声的群体 Flagged groups (outside the bounds, not noise):** "
                 + (", ".join(f"`{f}`" for f in flags) if flags else "none."))
    if "status" in fair:
        noisy = fair[fair["status"] == "outside_within_noise"]
        if len(noisy):
            lines.append("**超出范围但在噪声内 Outside the bounds but within noise:** " + ", ".join(
                f"`{r.attribute}={r.group}:{r.outside}`" for r in noisy.itertuples()))
        small = fair[fair["status"] == "too_small"]
        if len(small):
            lines.append("**样本过小未评判 Too small to judge:** " + ", ".join(f"{r.attribute}={r.group}"
                                                                          for r in small.itertuples()))
    lines += _reference_section(ctx)
    lines += ["", "## 特征 Features", "",
              f"{len(ctx['feature_names'])} features "
              + ("from the table, as the spec lists them: " + ", ".join(f"`{n}`" for n in ctx["feature_names"])
                 + " (protected attributes excluded by name and by content: no feature equals or nearly predicts "
                   "a protected column)" if table else
                 "from the catalog (protected attributes excluded by a check the trainer cannot skip)")
              + ". Top 15 by gain:", ""]
    imp = ctx["importance"]
    tot = float(imp.sum()) or 1.0
    top = pd.DataFrame({"feature": imp.index[:15], "label": [ctx.get("labels", {}).get(n, "") for n in imp.index[:15]],
                        "gain %": [f"{v / tot * 100:.1f}" for v in imp.to_numpy()[:15]]})
    lines += [_table(top), "", "## 局限 Limits", ""]
    base = m.get("observed_rate")
    limits = list(ctx.get("limits", []))
    if not table or (base is not None and base < 0.1):
        limits.append("Outcomes are rare: precision is modest even at the top; most flagged people would not "
                      "escalate. Treat a flag as a reason to check in, not as a prediction about a person.")
    else:
        limits.append("Treat a flag as a reason to check in, not as a prediction about a person.")
    limits += [
        "Labels only see recorded outcomes; places or groups that report less look safer than they are.",
        ("The test period is the latest part of the table; behaviour and recording practice drift, so monitor and "
         "retrain." if table else
         "The test period is the latest few months; behaviour and recording practice drift, so monitor and retrain."),
        ("Fairness is audited on the declared protected and audit-group columns; intervals for small groups are "
         "wide." if table else
         "Fairness is audited on residence-based attributes at one operating point; ratios for small groups are "
         "noisy."),
    ]
    if src.get("kind") == "world":
        limits.append("When trained on the synthetic world, every figure describes the simulator, not real people.")
    lines += [f"- {x}" for x in limits]
    return "\n".join(lines) + "\n"


def _world_use_and_data(ctx: dict) -> list[str]:
    return [
        "## 用途 Intended use",
        "",
        "Ranks people with recent dispute or police-call records by the calibrated probability of an escalation "
        f"outcome (民转刑 / 个人极端事件) within {ctx['horizon_days']} days, so that community workers can step in "
        "early. It supports a human reviewer; it is not a decision about any person, not evidence, and never "
        "a basis for enforcement on its own. Every alert is reviewed before it reaches a cadre.",
        "",
        "## 数据与切分 Data and split",
        "",
        f"- 快照 Snapshots every {ctx['frequency_days']} days; population = people with any record in the "
        f"{ctx['lookback_days']} days before the snapshot.",
        f"- 标签 Label = an outcome in (as_of, as_of + {ctx['horizon_days']} days].",
        f"- 排除 Excluded: people with an outcome recorded in the {ctx['exclude_days']} days before the snapshot "
        f"({ctx['excluded_rows']} snapshot rows): they are already in the case process. Older outcomes stay, as "
        "features (prior_outcomes, days_since_prior_outcome).",
        "- 年龄政策 Age policy: audit only (age band is audited, never a feature; DESIGN.md).",
        f"- 干预处理 Interventions: {TREATMENT_HANDLING[str(ctx.get('treatment_handling', 'not_recorded'))]}",
        *_split_lines(ctx),
    ]


#: How training handles snapshots of people who received an intervention (training.loop, issue 19).
TREATMENT_HANDLING = {
    "exclude": ("snapshots whose label window overlaps a recorded visit or mediation of that person (a visit in "
                "(as_of - 90 days, as_of + horizon]) are excluded from training: a prevented outcome must not "
                "teach the model that the people we alerted were safe. The visit is a recorded covariate of the "
                "snapshot, never a feature (closed-loop measurement: docs/prevention.md)."),
    "naive": "none: snapshots of visited people are kept with their (possibly prevented) outcomes (comparison only).",
    "not_recorded": ("this data records no visits or mediations after alerts. Where they are recorded (the closed "
                     "loop, training.loop), snapshots whose label window overlaps one are excluded, so that prevented "
                     "outcomes do not teach the model that alerted people were safe (docs/prevention.md)."),
}


def _split_lines(ctx: dict) -> list[str]:
    gap = ctx["split"]["gap_days"]
    why = ("so label windows never overlap" if gap else "none needed: no person's rows repeat within the horizon")
    return [
        f"- 时间切分 Time split (gap {gap} days, {why}): "
        f"train {ctx['split']['train']}; validation {ctx['split']['validation']}; test {ctx['split']['test']}.",
        "- 行数 Rows: " + ", ".join(f"{k} {v['rows']} ({v['positives']} positive)" for k, v in ctx["sizes"].items()),
        f"- 类别不平衡 Imbalance: `{ctx['imbalance']}`; 校准 calibration: `{ctx['calibration']['method']}` fitted on "
        f"{ctx['calibration']['rows']} held-out validation rows ({ctx['calibration']['positives']} positive) that "
        "neither trained the trees nor chose their number.",
        f"- 树 Trees: {ctx['best_iteration']} (early stopping on validation), max_depth {ctx['max_depth']}.",
        "",
    ]


_AGE_POLICY = {"audit_only": "audit only: age is audited and never a feature",
               "not_used": "not used: age is neither a feature nor audited"}


def _byod_use_and_data(ctx: dict) -> list[str]:
    """Intended use and data, written only from the user's spec and table (nothing about the built-in world)."""
    src = ctx["source"]
    desc = src.get("description") or "(规格未给出描述 the spec gives no description)"
    lines = [
        "## 用途 Intended use",
        "",
        f"{desc}",
        "",
        "The score ranks rows by the calibrated probability of the label. It supports a human reviewer; it is not a "
        "decision about any person, not evidence, and never a basis for enforcement on its own.",
        "",
        "## 数据与切分 Data and split",
        "",
        f"- 人群 Population: {src.get('population') or 'the rows of the table as supplied by the data owner'}.",
        f"- 标签 Label: column `{src.get('label_column', 'label')}`"
        + (f" = {src['label_definition']}" if src.get("label_definition") else "")
        + f"; horizon {ctx['horizon_days']} days after the row's time.",
        "- 受保护列 Protected columns (audit only, never features): "
        + (", ".join(f"`{c}`" for c in src.get("protected_columns", [])) or "none found in the table")
        + "; sex, ethnicity/race, religion and political affiliation are always protected.",
        f"- 年龄政策 Age policy: {_AGE_POLICY.get(src.get('age_policy', 'audit_only'), src.get('age_policy'))}.",
    ]
    rates = ctx.get("base_rates") or []
    if rates:
        lines += ["- 各期基础率 Base rate by period:", "",
                  _table(pd.DataFrame([{"period": r["period"], "from": r["start"], "to": r["end"], "rows": r["rows"],
                                        "base rate": _f(r["base_rate"])} for r in rates])), ""]
    return lines + _split_lines(ctx)


def _reference_section(ctx: dict) -> list[str]:
    ref = ctx.get("fairness_reference")
    if ref is None or not len(ref):
        return []
    lo, hi = ctx["fairness_bounds"]
    lines = ["", "### 相对参照组的差异 Disparity against a reference group", "",
             f"Each group against its attribute's reference group (declared, else the largest), at the capacity "
             f"operating point and with the top {ctx.get('high_risk_share', 0.1):.0%} flagged (high-risk share). "
             f"{ctx.get('fairness_ci_level', 0.95):.0%} bootstrap intervals ({ctx.get('fairness_n_boot')} resamples); "
             f"a **flag** only when the whole interval lies outside {lo}–{hi}. Calibration is mean predicted / the "
             "group's own observed rate (1 = calibrated), overall too.", ""]
    view = ref.copy()

    def ci(r, col):
        v, a, b = r.get(col), r.get(f"{col}_lo"), r.get(f"{col}_hi")
        return "—" if v is None or pd.isna(v) else f"{_f(v, 2)} [{_f(a, 2)}, {_f(b, 2)}]"

    rows = [{"point": r["operating_point"], "attribute": r["attribute"], "group": r["group"],
             "reference": r["reference"], "rows": r["rows"], "FPR ratio": ci(r, "fpr_ratio"),
             "FNR ratio": ci(r, "fnr_ratio"), "precision ratio": ci(r, "precision_ratio"),
             "selection ratio": ci(r, "selection_rate_ratio"), "calibration": ci(r, "calibration"),
             "flags": r["flags"] or ""} for r in view.to_dict("records")]
    lines += [_table(pd.DataFrame(rows)), ""]
    flags = ctx.get("fairness_reference_flags") or []
    lines.append("**区间在范围外 Flagged (interval outside the bounds):** "
                 + (", ".join(f"`{f}`" for f in flags) if flags else "none."))
    oracle = ctx.get("fairness_oracle_flags")
    if oracle is not None and flags:
        shared = [f for f in flags if f in set(oracle)]
        own = [f for f in flags if f not in set(oracle)]
        lines += ["", "**与记录真值对照 Against the records oracle (simulated world).** The same audit for the "
                  "records oracle (each person's true risk as far as the records reveal it, ranked the same way): a "
                  "flag it shares comes from real differences between the groups' risks in this world (who has which "
                  "disputes; for calibration: risk the records cannot show, judged against the oracle's overall "
                  "calibration), not from what the model learnt; a flag it does not share is the model's own. "
                  f"Shared: {len(shared)} of {len(flags)}"
                  + (f" ({', '.join(f'`{f}`' for f in shared)})" if shared else "")
                  + f"; the model's own: {len(own)}" + (f" ({', '.join(f'`{f}`' for f in own)})" if own else "")
                  + "."]
    for i, attr in enumerate(ctx.get("fairness_svgs") or {}):
        lines += ["", f"![fairness {attr}](fairness_{i}.svg)"]
    return lines


def render_card_html(markdown_text: str, image_dir: Path | None = None, title: str = "Model card") -> str:
    """Self-contained HTML (images inlined as base64) from the card Markdown."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = md.render(markdown_text)
    if image_dir is not None:
        for png in Path(image_dir).glob("*.png"):
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            body = body.replace(f'src="{png.name}"', f'src="data:image/png;base64,{data}"')
        for svg in Path(image_dir).glob("fairness_*.svg"):
            # inline SVG, text kept as text: replace the whole <img> element
            markup = svg.read_text(encoding="utf-8")
            body = re.sub(rf'<img src="{re.escape(svg.name)}"[^>]*>', markup.replace("\\", "\\\\"), body)
    css = ("body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;max-width:1100px;margin:2em auto;"
           "padding:0 1em;line-height:1.5;color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}"
           "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}img{max-width:100%}"
           "code{background:#f5f5f5;padding:0 3px}")
    return (f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body>{body}</body></html>")


def write_card(ctx: dict, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, svg in enumerate((ctx.get("fairness_svgs") or {}).values()):
        (out / f"fairness_{i}.svg").write_text(svg, encoding="utf-8")
    text = render_card_markdown(ctx)
    md_path = out / "model_card.md"
    md_path.write_text(text, encoding="utf-8")
    html_path = out / "model_card.html"
    html_path.write_text(render_card_html(text, out, title=f"{ctx['model_name']} model card"), encoding="utf-8")
    return {"markdown": md_path, "html": html_path}


def thresholds_section(th: dict) -> str:
    """The card's section on the alert thresholds fixed with the version at promotion (training.budget)."""
    d = th.get("detail", {})
    b = d.get("budget", {})
    budgets = th.get("budgets", {})
    bars = th.get("bars", {})
    lines = ["", "## 预警阈值与预算 Alert thresholds and budget (fixed at promotion)", "",
             f"- 阈值版本 Thresholds version `{d.get('thresholds_version')}`, computed {d.get('computed_at', '—')} "
             "from "
             f"the validation snapshots {', '.join(d.get('snapshots', []))} ({d.get('rows', '—')} rows) of "
             f"`{d.get('source', '—')}`; budget digest `{d.get('budget_digest')}`.",
             f"- 预算 Budget: min({b.get('reviewers_per_county')} reviewers x {b.get('cases_per_reviewer_per_week')} "
             f"cases a week, {b.get('visits_per_grid_per_week')} visits per grid a week) per county, x "
             f"{b.get('period_days')}/7 per run: **{sum(budgets.values())}** non-urgent alerts per run over "
             f"{len(budgets)} counties. Urgent hits are outside the budget.",
             f"- 默认阈值 Default bars (a county not seen at validation): red {_f(th['default'].get('red'), 4)}, "
             "orange "
             f"{_f(th['default'].get('orange'), 4)}, yellow {_f(th['default'].get('yellow'), 4)}, watch "
             f"{_f(th['default'].get('watch'), 4)}.", ""]
    rows = [{"county": c, "budget/run": budgets.get(c), "red": _f(v.get("red"), 4), "orange": _f(v.get("orange"), 4),
             "yellow": _f(v.get("yellow"), 4), "watch": _f(v.get("watch"), 4)} for c, v in sorted(bars.items())]
    if rows:
        lines += [_table(pd.DataFrame(rows)), ""]
    return "\n".join(lines) + "\n"
