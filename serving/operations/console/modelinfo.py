"""The model page's content: which model versions the registry holds and, for one version, what it was trained
on and how good and fair it is, in Chinese for reviewers and leaders.

Everything is read from what the registry stores with a version (:func:`training.registry.stored_version`:
version tags, the run's params and metrics, the model's metadata, the alert thresholds fixed at promotion,
the model card and the reference-group fairness audit); nothing is recomputed. A version trained from a
user's own table (BYOD) is described from its spec only: its description, population and label definition,
its features by the spec's column names (a user's column is not assumed to mean the catalog feature of the
same name), its protected columns and age policy.

The registry is optional for the console: with none configured, or one that cannot be reached, the page
says so and the rest of the console is unaffected (:func:`registry_problem` checks a database or server is
there before MLflow is asked, because MLflow retries an unreachable database for minutes).

>>> period_rows({"train": "2024-01-06..2024-02-05 (2)", "gap_days": 90}, {"train": (806, 3)})[0]["base_rate"]
'0.37%'
>>> flag_text("capacity:prefecture=眉山市:fpr")
'按处置能力：市州为眉山市的群体，误报率'
"""

from __future__ import annotations

import json
import logging
import re
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common.groups import ATTRIBUTE_LABELS, zh_group

__all__ = ["RegistryState", "VersionRow", "ModelView", "registry_problem", "list_versions", "load_version",
           "period_rows", "flag_text", "gate_reason_text", "NOT_CONFIGURED", "NOT_FOUND", "UNREACHABLE"]

log = logging.getLogger("weimeng.console")

NOT_CONFIGURED = ("审核台未配置模型注册表，暂时无法显示模型信息。请管理员在审核台的配置中填写模型注册表地址"
                  "（与训练和评分服务使用的注册表相同）。审核台的其他功能不受影响。")
UNREACHABLE = "模型注册表暂时无法访问，模型信息请稍后再看。审核台的其他功能不受影响。"
NOT_FOUND = ("没有找到配置的模型注册表：可能还没有训练过模型，或注册表地址配置有误，请联系分析员或管理员。"
             "审核台的其他功能不受影响。")

ROLE_LABELS = {"champion": "现任模型", "challenger": "候选模型"}
PERIOD_LABELS = {"train": "训练期", "validation": "验证期（早停与校准）", "test": "测试期"}
AGE_POLICY = {"audit_only": "仅用于公平性审计，从不作为特征", "not_used": "不使用：既不作为特征，也不参与审计"}
METRIC_LABELS = {"fpr": "误报率", "fnr": "漏报率", "precision": "精确率", "selection_rate": "入选率",
                 "calibration": "校准"}
#: Audit attributes of the built-in world (training.dataset.AUDIT_COLUMNS) in words.
_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433, "http": 80, "https": 443}


# -- the registry's state ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryState:
    """Whether the registry could be read; ``message`` (Chinese) says why not."""

    ok: bool
    message: str = ""


def registry_problem(uri: str | None, timeout: float = 2.0) -> str | None:
    """None when the registry at ``uri`` is there to be read, else the Chinese sentence for the page.

    A SQLite registry must exist already (MLflow would create an empty one); a database or tracking server
    must accept a connection within ``timeout`` seconds.
    """
    if not uri:
        return NOT_CONFIGURED
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""
    if scheme == "sqlite":
        path = uri.split(":///", 1)[1] if ":///" in uri else ""
        return None if path and Path(path).is_file() else NOT_FOUND
    if scheme in ("", "file"):
        path = urlsplit(uri).path if scheme == "file" else uri
        return None if Path(path).is_dir() else NOT_FOUND
    parts = urlsplit(uri)
    host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme)
    if not host or not port:
        return None  # a scheme we cannot probe: MLflow answers (or fails) for itself
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        log.warning("model registry %s:%s is unreachable: %s", host, port, exc)
        return UNREACHABLE


# -- the list -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRow:
    name: str
    version: str
    roles: str
    created: datetime
    data: str
    roc_auc: str
    precision: str
    fairness: str
    decision: str


def list_versions(uri: str | None) -> tuple[RegistryState, list[VersionRow]]:
    """Every registered version (champion and challenger first within a model, then newest first)."""
    problem = registry_problem(uri)
    if problem:
        return RegistryState(False, problem), []
    from training.registry import stored_versions

    try:
        stored = stored_versions(uri)
    except Exception as exc:  # noqa: BLE001  (any failure of the registry leaves the console working)
        log.warning("model registry could not be listed: %s", exc)
        return RegistryState(False, UNREACHABLE), []
    rows = []
    for r in stored:
        t = r["tags"]
        flags = _float(t.get("test_fairness_flags"))
        fair = "—" if flags is None else (f"{int(flags)} 个群体超出范围" if flags else "无超出范围的群体")
        rows.append(VersionRow(
            r["name"], r["version"], roles_text(r["aliases"]), r["created"], data_text(t.get("data_kind"), None),
            _num(t.get("test_roc_auc"), 3), _pct(t.get("test_precision_at_capacity")),
            fair, decision_summary(t)))
    order = {"champion": 0, "challenger": 1}
    rows.sort(key=lambda v: (v.name, min([order.get(a, 2) for a in _aliases(v.roles)] or [2]),
                             -int(v.version) if v.version.isdigit() else 0))
    return RegistryState(True), rows


def _aliases(roles: str) -> list[str]:
    back = {v: k for k, v in ROLE_LABELS.items()}
    return [back.get(x, x) for x in roles.split("、")]


def roles_text(aliases) -> str:
    rank = {a: i for i, a in enumerate(ROLE_LABELS)}
    shown = [ROLE_LABELS.get(a, f"别名 {a}") for a in sorted(aliases, key=lambda a: (rank.get(a, len(rank)), a))]
    return "、".join(shown) if shown else "历史版本"


def data_text(kind: str | None, metrics: dict | None) -> str:
    if kind == "table":
        return "用户自带数据表"
    if kind == "world":
        if metrics is None:
            return "标准数据目录"
        return "内置模拟世界" if "oracle_records_roc_auc" in metrics else "标准数据目录（真实数据）"
    return "其他来源（测试登记）"


def decision_summary(tags: dict) -> str:
    if tags.get("rolled_back_at"):
        return "已回滚"
    if tags.get("promoted_at"):
        return "强制晋升" if tags.get("promotion_forced") == "true" else "通过门槛晋升"
    if tags.get("gate_refused_at"):
        return "晋升被拒"
    return "未申请晋升"


# -- one version ------------------------------------------------------------------------------------------
@dataclass
class ModelView:
    """One version's page, every value already a Chinese text (times stay aware UTC for the template)."""

    name: str
    version: str
    roles: str
    created: datetime
    byod: bool
    overview: list[tuple[str, str]] = field(default_factory=list)
    purpose: list[tuple[str, str]] = field(default_factory=list)
    periods: list[dict] = field(default_factory=list)
    periods_note: str = ""
    features: list[str] = field(default_factory=list)
    features_note: str = ""
    protection: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)
    thresholds: list[tuple[str, str]] = field(default_factory=list)
    county_bars: list[dict] = field(default_factory=list)
    thresholds_note: str = ""
    fairness: list[tuple[str, str]] = field(default_factory=list)
    fairness_items: list[str] = field(default_factory=list)
    decisions: list[tuple[datetime | None, str]] = field(default_factory=list)


def load_version(uri: str | None, name: str, version: str, county_name=None) -> tuple[RegistryState, ModelView | None]:
    """The page of ``name`` version ``version``; (state, None) when the registry cannot be read.

    An unknown name or version is :class:`~serving.operations.console.errors.ModelVersionNotFound`.
    ``county_name``: code -> Chinese name for the per-county bars (the console's world)."""
    from serving.operations.console.errors import ModelVersionNotFound

    problem = registry_problem(uri)
    if problem:
        return RegistryState(False, problem), None
    from training.errors import RegistryError
    from training.registry import stored_version

    try:
        stored = stored_version(version, tracking_uri=uri, model_name=name)
    except RegistryError:
        raise ModelVersionNotFound(f"未找到该模型版本：注册表中没有模型“{name[:80]}”的第 {version[:20]} 版。"
                                   "请从模型列表中选择。") from None
    except Exception as exc:  # noqa: BLE001
        log.warning("model version %s/%s could not be read: %s", name, version, exc)
        return RegistryState(False, UNREACHABLE), None
    return RegistryState(True), build_view(stored, county_name or (lambda c: str(c)))


def build_view(s: dict, county_name) -> ModelView:
    """The page from one :func:`training.registry.stored_version` record."""
    tags, params, metrics = s["tags"], s["params"], s["metrics"]
    meta = s.get("metadata") or {}
    kind = tags.get("data_kind") or meta.get("data_kind") or params.get("data.kind")
    byod = kind == "table"
    v = ModelView(s["name"], s["version"], roles_text(s["aliases"]), s["created"], byod)
    horizon = meta.get("horizon_days") or params.get("data.horizon_days") or params.get("config.snapshots.horizon_days")
    v.overview = [("模型名称", s["name"]), ("版本", f"第 {s['version']} 版"), ("角色", v.roles),
                  ("数据来源", data_text(kind, metrics))]
    trained = _time(meta.get("trained_at"))
    if trained is not None:
        v.overview.append(("训练时间", _beijing(trained)))
    if tags.get("trained_by"):
        v.overview.append(("训练人", tags["trained_by"]))
    start, end = params.get("data.data_start"), params.get("data.data_end")
    if start and end:
        v.overview.append(("数据期间", f"{start} 至 {end}"))
    if not byod and meta.get("catalog_version"):
        v.overview.append(("特征目录版本", str(meta["catalog_version"])))
    if not byod and meta.get("ruleset_version"):
        v.overview.append(("规则集版本", str(meta["ruleset_version"])))

    v.purpose = _byod_purpose(params, horizon) if byod else _world_purpose(params, horizon, kind)
    v.periods = period_rows(meta.get("split") or {}, card_rows(s.get("card") or ""))
    if not v.periods:
        v.periods_note = "该版本没有登记时间切分。"
    elif not any(p["rows"] != "—" for p in v.periods):
        v.periods_note = "该版本的模型卡未记录各期行数，基础率无法显示。"
    v.features, v.features_note = _features(meta.get("feature_names") or [], byod)
    v.protection = _protection(params, meta, byod)
    v.metrics = _metrics(metrics, meta, tags)
    v.thresholds, v.county_bars, v.thresholds_note = _thresholds(s.get("thresholds"), county_name)
    v.fairness, v.fairness_items = _fairness(metrics, meta, s.get("fairness_reference"), params)
    v.decisions = _decisions(tags)
    return v


def _world_purpose(params: dict, horizon, kind) -> list[tuple[str, str]]:
    lookback = params.get("config.snapshots.lookback_days") or "365"
    freq = params.get("config.snapshots.frequency_days") or "30"
    exclude = params.get("config.snapshots.exclude_recent_outcome_days")
    h = horizon or "—"
    out = [("用途", f"对近期有矛盾纠纷或报警记录的人员，按经过校准的概率排序：{h} 天内发生民转刑或个人极端事件的可能。"
                  "模型辅助审核民警研判，不是对任何人的结论，也不能单独作为采取措施的依据；每条预警都先经人工审核。"),
           ("人群", f"每 {freq} 天一个快照；快照前 {lookback} 天内有警情、矛盾纠纷调解或关怀记录的人员。"
                  + (f"快照前 {exclude} 天内已发生结局的人员不计入（已在案件处理中）。" if exclude else "")),
           ("标签定义", f"快照之后 {h} 天内发生升级结局（刑事案件、个人极端事件或自伤）记为正例。"),
           ("预测期", f"{h} 天")]
    if kind == "world":
        out.append(("说明", "在内置模拟世界上训练时，所有数字描述的是模拟器，而不是真实人群。"))
    return out


def _byod_purpose(params: dict, horizon) -> list[tuple[str, str]]:
    label_col = params.get("data.label_column")
    definition = params.get("data.label_definition")
    label = definition or "规格未给出标签定义"
    if label_col:
        label += f"（标签列 {label_col}）"
    return [("用途", params.get("data.description") or "规格未给出描述"),
            ("人群", params.get("data.population") or "规格未给出人群：数据提供方提供的数据表中的各行"),
            ("标签定义", label), ("预测期", f"每行时间之后 {horizon or '—'} 天")]


_SPAN = re.compile(r"^(\S+)\.\.(\S+) \((\d+)\)$")
_CARD_ROWS = re.compile(r"(train|early_stopping|calibration|test) (\d+) \((\d+) positive\)")


def card_rows(card: str) -> dict[str, tuple[int, int]]:
    """Rows and positives per period from the model card's ``Rows:`` line (training.card); validation is
    its early-stopping and calibration parts together."""
    line = next((ln for ln in card.splitlines() if ln.startswith("- 行数 Rows:")), "")
    found = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in _CARD_ROWS.finditer(line)}
    out = {k: found[k] for k in ("train", "test") if k in found}
    parts = [found[k] for k in ("early_stopping", "calibration") if k in found]
    if parts:
        out["validation"] = (sum(p[0] for p in parts), sum(p[1] for p in parts))
    return out


def period_rows(split: dict, rows: dict[str, tuple[int, int]]) -> list[dict]:
    """The train / validation / test periods with their dates, snapshots, rows and base rate."""
    out = []
    for key in ("train", "validation", "test"):
        m = _SPAN.match(str(split.get(key, "")))
        if not m:
            continue
        counted = rows.get(key)
        n, pos = counted if counted is not None else (0, 0)
        out.append({"period": PERIOD_LABELS[key], "start": m.group(1), "end": m.group(2), "snapshots": m.group(3),
                    "rows": "—" if counted is None else f"{n:,}", "positives": "—" if counted is None else f"{pos:,}",
                    "base_rate": "—" if not n else f"{pos / n:.2%}"})
    return out


def _features(names: list[str], byod: bool) -> tuple[list[str], str]:
    if byod:
        return list(names), f"共 {len(names)} 项，按规格中的列名列出（规格没有给出中文名称）。"
    from features.catalog import CATALOG

    known = [CATALOG[n].label for n in names if n in CATALOG]
    other = len(names) - len(known)
    note = f"共 {len(names)} 项。" + (f"另有 {other} 项不在当前特征目录中，未列出名称。" if other else "")
    return known, note


def _protection(params: dict, meta: dict, byod: bool) -> list[tuple[str, str]]:
    if byod:
        try:
            cols = json.loads(params.get("data.protected_columns") or "[]")
        except ValueError:
            cols = []
        audit = [c for c in meta.get("audit_columns") or [] if c not in cols]
        return [("受保护列（仅用于审计，从不作为特征）", "、".join(map(str, cols)) or "数据表中没有找到"),
                ("其他审计分组列", "、".join(map(str, audit)) or "无"),
                ("始终受保护", "性别、民族或种族、宗教、政治面貌：无论规格如何都不能作为特征"),
                ("年龄政策", AGE_POLICY.get(params.get("data.age_policy") or "audit_only", "规格中的年龄政策无法识别"))]
    audit = [ATTRIBUTE_LABELS.get(c, "其他属性") for c in meta.get("audit_columns") or []]
    return [("受保护属性（仅用于公平性审计，从不作为特征）", "、".join(audit) or "无"),
            ("始终排除",
             "性别、出生年份与年龄、地区、城乡、民族、宗教、政治活动：特征目录规定，训练时有检查，不能作为特征"),
            ("年龄政策", AGE_POLICY["audit_only"])]


def _metrics(m: dict, meta: dict, tags: dict) -> list[tuple[str, str]]:
    k = meta.get("alerts_per_snapshot") or tags.get("alerts_per_snapshot")
    at = f"（每期前 {k} 人）" if k not in (None, "") else ""
    out = [("ROC-AUC（测试期）", _num(m.get("roc_auc"), 3)),
           (f"按处置能力的精确率{at}", _pct(m.get("precision_at_capacity"))),
           (f"按处置能力的召回率{at}", _pct(m.get("recall_at_capacity")))]
    if m.get("rules_precision_at_capacity") is not None:
        out.append(("规则基线的精确率（同一处置能力）", _pct(m.get("rules_precision_at_capacity"))))
    if m.get("lift_over_rules") is not None:
        out.append(("相对规则基线的提升", f"{float(m['lift_over_rules']):.2f} 倍"))
    if m.get("auc_ratio_to_records_oracle") is not None:
        out.append(("与记录可达上限之比（ROC-AUC）",
                    f"{float(m['auc_ratio_to_records_oracle']):.3f}"
                    f"（上限 {_num(m.get('oracle_records_roc_auc'), 3)}：仅凭记录所能达到的最好排序）"))
    if m.get("observed_rate") is not None:
        out.append(("测试期实际发生率与平均预测概率",
                    f"{_pct(m.get('observed_rate'))} 与 {_pct(m.get('mean_predicted'))}"))
    if m.get("test_rows") is not None:
        out.append(("测试期规模", f"{int(m['test_rows']):,} 行，其中正例 {int(m.get('test_positives') or 0):,} 个"))
    return out


def _thresholds(th: dict | None, county_name) -> tuple[list[tuple[str, str]], list[dict], str]:
    if not th:
        return [], [], ("该版本没有登记预警阈值与预算：它尚未在预算下晋升（或晋升时没有可用的验证人群），"
                        "评分服务对它使用融合策略中的固定概率阈值。")
    d = th.get("detail") or {}
    b = d.get("budget") or {}
    budgets = th.get("budgets") or {}
    default = th.get("default") or {}
    out = [("阈值版本", str(d.get("thresholds_version") or "—")),
           ("计算时间", _beijing(_time(d.get("computed_at")))),
           ("依据的验证快照", "、".join(d.get("snapshots") or []) or "—"),
           ("每次评分的预警预算",
            f"{sum(int(x) for x in budgets.values()):,} 条（{len(budgets)} 个县区；紧急预警不占预算）")]
    if b:
        out.append(("预算规则", f"每县每周审核能力 {_g(b.get('reviewers_per_county'))} 名审核民警 × "
                               f"{_g(b.get('cases_per_reviewer_per_week'))} 件，与每个网格每周走访 "
                               f"{_g(b.get('visits_per_grid_per_week'))} 次取较小者；每次评分覆盖 "
                               f"{_g(b.get('period_days'))} 天"))
    out.append(("未见县区的默认阈值", _bars(default)))
    rows = [{"county": county_name(c), "budget": str(budgets.get(c, "—")), "bars": _bars(bars)}
            for c, bars in sorted((th.get("bars") or {}).items())]
    return out, rows, ""


def _bars(bars: dict) -> str:
    names = (("red", "红"), ("orange", "橙"), ("yellow", "黄"), ("watch", "关注"))
    return "，".join(f"{zh} {_pct(bars.get(k), 3)}" for k, zh in names if bars.get(k) is not None) or "—"


def _fairness(m: dict, meta: dict, ref, params: dict) -> tuple[list[tuple[str, str]], list[str]]:
    share = params.get("config.fairness.high_risk_share")
    group_flags = list(meta.get("fairness_flags") or [])
    out = [("超出范围且非噪声的群体（相对总体）", f"{len(group_flags)} 个" if meta else "—")]
    if m.get("reference_fairness_flags") is not None:
        out.append(("相对参照组的标记（区间整体在范围外）", f"{int(m['reference_fairness_flags'])} 项"))
    shared = meta.get("fairness_flags_shared_with_oracle")
    if m.get("reference_fairness_flags_shared_with_oracle") is not None:
        n = int(m["reference_fairness_flags_shared_with_oracle"])
        own = max(int(m.get("reference_fairness_flags") or 0) - n, 0)
        out.append(("其中与记录可达上限相同的标记",
                    f"{n} 项：这些差异来自各群体本身风险的不同，而不是模型学到的；其余 {own} 项是模型自身的"))
    items = [flag_text(f, share) for f in group_flags]
    if ref is not None and len(ref) and "flags" in ref:
        shared_set = set(shared or [])
        for r in ref.to_dict("records"):
            for metric in [x for x in str(r.get("flags") or "").split(",") if x]:
                key = f"{r['operating_point']}:{r['attribute']}={r['group']}:{metric}"
                text = flag_text(key, share, reference=str(r.get("reference") or ""))
                items.append(text + ("（记录可达上限也有）" if key in shared_set else ""))
    return out, items


_FLAG = re.compile(r"^(?:(capacity|high_risk_share):)?([^=:]+)=(.*):([a-z_]+)$")


def flag_text(flag: str, high_risk_share: Any = None, reference: str = "") -> str:
    """``capacity:prefecture=眉山市:fpr`` as a sentence: the operating point, the group, the metric."""
    m = _FLAG.match(str(flag))
    if not m:
        return "一项公平性标记（格式无法识别，详见模型卡）"
    point, attr, group, metric = m.groups()
    share = f"（风险最高的 {float(high_risk_share):.0%}）" if high_risk_share not in (None, "") else ""
    where = {"capacity": "按处置能力：", "high_risk_share": f"按高风险比例{share}："}.get(point or "", "")
    ref = f"（参照群体：{zh_group(reference)}）" if reference else ""
    return (f"{where}{ATTRIBUTE_LABELS.get(attr, attr)}为{zh_group(group)}的群体{ref}，"
            f"{METRIC_LABELS.get(metric, '其他指标')}")


def _decisions(t: dict) -> list[tuple[datetime | None, str]]:
    out: list[tuple[datetime | None, str]] = []
    if t.get("gate_refused_at"):
        reasons = [gate_reason_text(r) for r in str(t.get("gate_refusal") or "").split("; ") if r]
        out.append((_time(t["gate_refused_at"]), "晋升门槛未通过：" + ("；".join(reasons) or "未记录理由")))
    if t.get("promoted_at"):
        who = t.get("promoted_by") or "未记录"
        try:
            gate = json.loads(t.get("promotion_gate") or "{}")
        except ValueError:
            gate = {}
        if t.get("promotion_forced") == "true":
            why = [gate_reason_text(r) for r in gate.get("reasons") or []]
            text = (f"强制晋升为现任模型（操作人 {who}）。强制理由：{t.get('promotion_reason') or '未记录'}。"
                    + (f"门槛未通过的原因：{'；'.join(why)}。" if why else ""))
        else:
            reason = t.get("promotion_reason") or ""
            text = f"通过晋升门槛，成为现任模型（操作人 {who}）" + (
                "。" if reason in ("", "passed gate") else f"。说明：{reason}。")
        if t.get("previous_champion"):
            text += f"此前的现任模型为第 {t['previous_champion']} 版。"
        else:
            text += "这是第一个现任模型。"
        out.append((_time(t["promoted_at"]), text))
    if t.get("alert_thresholds_version"):
        out.append((None, f"登记了预警阈值与预算（阈值版本 {t['alert_thresholds_version']}）。"))
    if t.get("rolled_back_at"):
        who = t.get("rolled_back_by") or "未记录"
        out.append((_time(t["rolled_back_at"]),
                    f"被回滚，不再是现任模型（操作人 {who}）。理由：{t.get('rollback_reason') or '未记录'}。"))
    if t.get("restored_at"):
        out.append((_time(t["restored_at"]), "因回滚恢复为现任模型。"))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(out, key=lambda e: e[0] or far)


_REASONS = [
    (re.compile(r"precision@capacity ([\d.]+) < rules-only baseline ([\d.]+)"),
     "按处置能力的精确率 {0} 低于规则基线的 {1}"),
    (re.compile(r"precision@capacity is no better than the prior rate"), "按处置能力的精确率不高于随机抽取的先验比例"),
    (re.compile(r"ROC-AUC ([\d.]+) < champion ([\d.]+) - ([\d.]+)"), "ROC-AUC {0} 低于现任模型的 {1}（允许差 {2}）"),
    (re.compile(r"precision@capacity ([\d.]+) < champion ([\d.]+) - ([\d.]+)"),
     "按处置能力的精确率 {0} 低于现任模型的 {1}（允许差 {2}）"),
    (re.compile(r"recall at the budget \((\d+) alerts per run\) ([\d.]+) < champion ([\d.]+)"),
     "预警预算（每次 {0} 条）下的召回率 {1} 低于现任模型的 {2}"),
    (re.compile(r"fairness: flagged groups .* no champion to compare with"),
     "公平性：首个现任模型不允许有超出范围的群体"),
    (re.compile(r"fairness: flagged groups .* that the champion does not have"),
     "公平性：出现了现任模型没有的超出范围群体"),
    (re.compile(r"champion cannot score the challenger's test window"), "现任模型无法在候选模型的测试期上评分"),
]


def gate_reason_text(reason: str) -> str:
    """One reason the promotion gate gave (training.promotion, English) in Chinese."""
    for pattern, text in _REASONS:
        m = pattern.search(reason)
        if m:
            return text.format(*m.groups())
    return "另有一条门槛理由（原文见模型卡与注册表）"


# -- formatting -------------------------------------------------------------------------------------------
def _time(value) -> datetime | None:
    if not value:
        return None
    s = str(value).strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _beijing(t: datetime | None) -> str:
    from serving.operations.console.display import time_text

    return time_text(t) if t is not None else "—"


def _float(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _num(v, digits: int = 3) -> str:
    f = _float(v)
    return "—" if f is None else f"{f:.{digits}f}"


def _pct(v, digits: int = 1) -> str:
    f = _float(v)
    return "—" if f is None else f"{f:.{digits}%}"


def _g(v) -> str:
    f = _float(v)
    return "—" if f is None else f"{f:g}"
