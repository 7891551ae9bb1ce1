"""The promotion gate: ``champion`` moves only to a challenger that is at least as good.

Both models are re-scored on the **challenger's** test snapshots (logged with its run), so they are
compared on the same rows. The challenger passes when

* its ROC-AUC >= champion's - ``auc_tolerance`` and its precision at capacity >= champion's -
  ``precision_tolerance`` (first promotion, no champion: it must beat the rules-only baseline and the
  prior rate at capacity instead), and
* it raises no fairness flag the champion does not also raise on that window (with no champion: no
  flag at all), unless ``allow_new_fairness_flags`` is set, and
* it does not lower recall at the alert budget (the budget's alerts per run, top by risk per snapshot)
  when the budget is known.

On promotion the alert thresholds of the version are fixed (training.budget; from its validation
population in its data directory and the budget of the fusion policy) and stored with the version in
the registry, unless it already has thresholds for the same budget. The scoring service loads them
with the model.

``force=True`` with a ``reason`` overrides a refusal; who (``by`` or the login name) and why are
written as model-version tags. Every move of ``champion`` is appended to the registered model's
``champion_history`` tag, which :func:`rollback` walks back.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from training.assess import assess
from training.config import TrainConfig, load_config
from training.errors import IncompatibleModelError, PromotionRefused, RegistryError, TrainingConfigError
from training.registry import (
    MODEL_NAME,
    _version_for,
    client_for,
    download_test_set,
    load_model_version,
    register_thresholds,
)

__all__ = ["GateReport", "promote", "rollback", "evaluate_gate", "fix_thresholds"]

HISTORY_TAG = "champion_history"


@dataclass
class GateReport:
    challenger: str
    champion: str | None
    passed: bool
    reasons: list[str] = field(default_factory=list)
    challenger_metrics: dict = field(default_factory=dict)
    champion_metrics: dict = field(default_factory=dict)
    new_fairness_flags: list[str] = field(default_factory=list)
    forced: bool = False
    promoted: bool = False
    thresholds: dict = field(default_factory=dict)   # the alert thresholds fixed with the version

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _history(client, name: str) -> list[str]:
    rm = client.get_registered_model(name)
    raw = (rm.tags or {}).get(HISTORY_TAG)
    return json.loads(raw) if raw else []


def _set_history(client, name: str, hist: list[str]) -> None:
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(hist[-200:]))


def evaluate_gate(challenger, champion, test, cfg: TrainConfig, budget_alerts: int | None = None) -> GateReport:
    """Compare two loaded models on the challenger's test rows (pure: no registry writes).

    ``budget_alerts``: the alert budget per scoring run; the challenger must not lower recall there."""
    meta = challenger.metadata
    k = int(meta["alerts_per_snapshot"])
    kw = dict(label=meta.get("label", "label"), time_col=meta.get("time_col", "as_of"),
              audit_columns=meta.get("audit_columns", []))
    a_ch = assess(challenger, test, k, cfg, **kw)
    rep = GateReport(challenger=str(meta.get("model_version")), champion=None, passed=True,
                     challenger_metrics=a_ch.metrics)
    p = cfg.promotion
    mc = a_ch.metrics
    if champion is None:
        base = mc.get("rules_precision_at_capacity")
        if base is not None and (mc["precision_at_capacity"] or 0) < base:
            rep.reasons.append(f"precision@capacity {mc['precision_at_capacity']:.4f} < rules-only baseline {base:.4f}")
        if (mc["precision_at_capacity"] or 0) <= (mc.get("prior_precision") or 0):
            rep.reasons.append("precision@capacity is no better than the prior rate")
        new_flags = list(a_ch.flags)
    else:
        rep.champion = str(champion.metadata.get("model_version"))
        try:
            a_cp = assess(champion, test, k, cfg, **kw)
        except IncompatibleModelError as exc:
            raise IncompatibleModelError(
                f"现任模型无法在挑战者测试集上评分 / the champion v{rep.champion} cannot score the challenger's test "
                f"window: {exc} Compare by hand and use --force with a reason.") from None
        rep.champion_metrics = a_cp.metrics
        mp = a_cp.metrics
        if (mc["roc_auc"] or 0) < (mp["roc_auc"] or 0) - p.auc_tolerance:
            rep.reasons.append(f"ROC-AUC {mc['roc_auc']:.4f} < champion {mp['roc_auc']:.4f} - {p.auc_tolerance}")
        if (mc["precision_at_capacity"] or 0) < (mp["precision_at_capacity"] or 0) - p.precision_tolerance:
            rep.reasons.append(f"precision@capacity {mc['precision_at_capacity']:.4f} < champion "
                               f"{mp['precision_at_capacity']:.4f} - {p.precision_tolerance}")
        new_flags = sorted(set(a_ch.flags) - set(a_cp.flags))
        if budget_alerts:
            from training.policy_backtest import recall_at_budget

            label, time_col = kw["label"], kw["time_col"]
            r_ch = recall_at_budget(challenger, test, int(budget_alerts), label, time_col)
            r_cp = recall_at_budget(champion, test, int(budget_alerts), label, time_col)
            mc["recall_at_budget"], mp["recall_at_budget"] = r_ch, r_cp
            if r_ch < r_cp - 1e-12:
                rep.reasons.append(f"recall at the budget ({int(budget_alerts)} alerts per run) {r_ch:.4f} < champion "
                                   f"{r_cp:.4f}")
    rep.new_fairness_flags = new_flags
    if new_flags and not p.allow_new_fairness_flags:
        if champion is None:
            rep.reasons.append(f"fairness: flagged groups (outside {list(cfg.fairness.bounds)}, not noise) and no "
                               f"champion to compare with, so none are allowed: {new_flags}")
        else:
            rep.reasons.append(f"fairness: flagged groups (outside {list(cfg.fairness.bounds)}, not noise) that the "
                               f"champion does not have: {new_flags}")
    rep.passed = not rep.reasons
    return rep


def promote(version: str | int | None = None, *, tracking_uri: str | None = None, force: bool = False,
            reason: str | None = None, by: str | None = None, config: str | TrainConfig | None = None,
            model_name: str = MODEL_NAME, budget=None, data_dir: str | None = None) -> GateReport:
    """Move ``champion`` to the challenger (or ``version``) if it passes the gate, or if forced.

    Raises :class:`PromotionRefused` (with ``.report``) when the gate says no and ``force`` is False.
    ``budget``: a training.budget.BudgetConfig, a fusion policy YAML or None (the defaults, which the
    packaged fusion.yaml states); ``data_dir``: where the validation population is (default: the
    version's ``data_path`` tag).
    """
    if force and not (reason and reason.strip()):
        raise TrainingConfigError("强制晋升须说明理由 / force=True needs a reason: pass --reason \"...\" "
                                  "(it is recorded on the model version with who forced it).")
    cfg = config if isinstance(config, TrainConfig) else load_config(config)
    client = client_for(tracking_uri)
    mv = _version_for(client, model_name, "challenger" if version is None else None, version)
    try:
        champ_mv = client.get_model_version_by_alias(model_name, "champion")
    except Exception:
        champ_mv = None
    if champ_mv is not None and str(champ_mv.version) == str(mv.version):
        raise PromotionRefused(f"v{mv.version} 已是现任模型 / version {mv.version} is already the champion.",
                               {"challenger": str(mv.version), "champion": str(mv.version)})
    challenger = load_model_version(model_name, alias=None, version=mv.version, tracking_uri=tracking_uri)
    champion = (load_model_version(model_name, alias=None, version=champ_mv.version, tracking_uri=tracking_uri)
                if champ_mv is not None else None)
    test = download_test_set(mv.run_id, tracking_uri)
    from training.budget import load_budget

    budget_cfg = load_budget(budget)
    world = _world_dir(data_dir, mv)
    budget_alerts = _budget_alerts(world, budget_cfg) if world is not None else None
    try:
        report = evaluate_gate(challenger, champion, test, cfg, budget_alerts)
    except IncompatibleModelError:
        if not force:
            raise
        report = GateReport(str(mv.version), str(champ_mv.version) if champ_mv else None, False,
                            ["champion cannot score the challenger's test window"])
    report.forced = force and not report.passed
    who = _who(by)
    if not report.passed and not force:
        client.set_model_version_tag(model_name, str(mv.version), "gate_refused_at", _now())
        client.set_model_version_tag(model_name, str(mv.version), "gate_refusal", "; ".join(report.reasons)[:4900])
        raise PromotionRefused(
            f"晋升被拒绝 / promotion of v{mv.version} refused: " + "; ".join(report.reasons)
            + ". Fix the model, or override with force=True and a reason (`--force --reason \"...\"`).",
            report.to_dict())
    report.thresholds = _fix_thresholds(challenger, mv, world, budget_cfg, tracking_uri, model_name)
    hist = _history(client, model_name)
    if champ_mv is not None and (not hist or hist[-1] != str(champ_mv.version)):
        hist.append(str(champ_mv.version))
    hist.append(str(mv.version))
    client.set_registered_model_alias(model_name, "champion", str(mv.version))
    _set_history(client, model_name, hist)
    tags = {"promoted_at": _now(), "promoted_by": who, "promotion_forced": str(report.forced).lower(),
            "promotion_reason": (reason or "passed gate")[:4900],
            "promotion_gate": json.dumps({"passed": report.passed, "reasons": report.reasons,
                                          "champion": report.champion}, ensure_ascii=False)[:4900],
            "previous_champion": str(champ_mv.version) if champ_mv is not None else ""}
    for k, v in tags.items():
        client.set_model_version_tag(model_name, str(mv.version), k, v)
    report.promoted = True
    return report


def rollback(*, tracking_uri: str | None = None, reason: str | None = None, by: str | None = None,
             model_name: str = MODEL_NAME) -> dict:
    """Point ``champion`` back at the previous champion (from ``champion_history``)."""
    client = client_for(tracking_uri)
    try:
        current = client.get_model_version_by_alias(model_name, "champion")
    except Exception:
        raise RegistryError(f"没有现任模型 / registered model '{model_name}' has no champion to roll back.") from None
    hist = _history(client, model_name)
    while hist and hist[-1] == str(current.version):
        hist.pop()
    if not hist:
        raise RegistryError(
            f"没有更早的现任模型 / champion v{current.version} has no previous champion in the history; nothing to "
            f"roll back to. Promote another version instead (`weimeng model promote`).")
    previous = hist[-1]
    client.set_registered_model_alias(model_name, "champion", previous)
    _set_history(client, model_name, hist)
    who = _who(by)
    client.set_model_version_tag(model_name, str(current.version), "rolled_back_at", _now())
    client.set_model_version_tag(model_name, str(current.version), "rolled_back_by", who)
    client.set_model_version_tag(model_name, str(current.version), "rollback_reason", (reason or "")[:4900])
    client.set_model_version_tag(model_name, previous, "restored_at", _now())
    return {"from": str(current.version), "to": previous, "by": who}


def _world_dir(data_dir, mv):
    from pathlib import Path

    d = data_dir or (mv.tags or {}).get("data_path")
    return Path(d) if d and Path(d).is_dir() and (Path(d) / "grids.parquet").exists() else None


def _budget_alerts(world, budget_cfg) -> int:
    import pandas as pd

    from training.budget import county_budgets

    grids = pd.read_parquet(world / "grids.parquet", columns=["county_code", "prefecture_code"])
    return int(sum(county_budgets(grids["county_code"].astype(str).tolist(), budget_cfg,
                                  grids["prefecture_code"].astype(str).tolist()).values()))


def _fix_thresholds(model, mv, world, budget_cfg, tracking_uri, model_name, force: bool = False) -> dict:
    """Compute and register the version's alert thresholds (kept when already fixed for this budget)."""
    tags = mv.tags or {}
    if not force and tags.get("alert_thresholds_version") and tags.get("alert_budget_digest") == budget_cfg.digest():
        return {"thresholds_version": tags["alert_thresholds_version"], "kept": True}
    if world is None:
        return {"thresholds_version": None, "reason": "no data directory with the validation population; the "
                "service falls back to the policy's fixed probabilities"}
    from training.policy_backtest import validation_thresholds

    th = validation_thresholds(model, world, budget_cfg)
    register_thresholds(mv.version, th, tracking_uri=tracking_uri, model_name=model_name)
    try:
        _card_with_thresholds(mv.run_id, th, tracking_uri)
    except Exception as exc:  # the card is documentation; the thresholds are registered either way
        import logging

        logging.getLogger("weimeng.training").warning("model card not updated with the thresholds: %s", exc)
    return {"thresholds_version": th.version, "alerts_per_run": int(sum(th.budgets.values())),
            "counties": len(th.budgets), "snapshots": th.detail.get("snapshots")}


def _card_with_thresholds(run_id: str, th, tracking_uri) -> None:
    """Append the thresholds section to the run's model card (Markdown and HTML artifacts)."""
    import tempfile
    from pathlib import Path

    import mlflow
    import mlflow.artifacts

    from training.card import render_card_html, thresholds_section

    client_for(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        md = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="report/model_card.md",
                                                      dst_path=tmp))
        text = md.read_text(encoding="utf-8").split("\n## 预警阈值与预算", 1)[0].rstrip("\n") + "\n"
        text += thresholds_section(th.to_dict())
        md.write_text(text, encoding="utf-8")
        html = md.with_name("model_card.html")
        html.write_text(render_card_html(text, None, title="model card"), encoding="utf-8")
        with mlflow.start_run(run_id=run_id):
            mlflow.log_artifact(str(md), artifact_path="report")
            mlflow.log_artifact(str(html), artifact_path="report")


def fix_thresholds(version: str | int | None = None, *, alias: str = "champion", tracking_uri: str | None = None,
                   budget=None, data_dir: str | None = None, model_name: str = MODEL_NAME,
                   force: bool = False) -> dict:
    """(Re)compute and register a version's alert thresholds for ``budget`` (a budget change is a new
    thresholds version: the service picks it up on its next reload). Kept when already fixed for it,
    unless ``force``."""
    from training.budget import load_budget
    from training.errors import TrainingDataError

    client = client_for(tracking_uri)
    mv = _version_for(client, model_name, None if version is not None else alias, version)
    world = _world_dir(data_dir, mv)
    if world is None:
        raise TrainingDataError(f"找不到验证数据 / version {mv.version} has no world directory with its validation "
                                f"population (tag data_path={(mv.tags or {}).get('data_path')!r}); pass data_dir.")
    model = load_model_version(model_name, alias=None, version=mv.version, tracking_uri=tracking_uri)
    return {"version": str(mv.version),
            **_fix_thresholds(model, mv, world, load_budget(budget), tracking_uri, model_name, force=force)}
