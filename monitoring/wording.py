"""What monitoring says to people, in Chinese: feature names through the catalog's labels, rules with their
titles, data-quality indicators and fairness groups in words, alarms as sentences.

Identifiers stay in ``summary.json`` (machines read them); everything a person reads (the CLI's alarm lines,
the leadership report) goes through here, so no feature id, rule id without its title or raw value reaches
leadership.

>>> feature_label("calls_30d")
'近30天报警次数'
>>> indicator_label("missing:flag_threat")
'威胁言语标记缺失率'
>>> zh_group("城镇 urban"), zh_group("阿坝藏族羌族自治州 (自治州 autonomous)")
('城镇', '阿坝藏族羌族自治州（自治州）')
"""

from __future__ import annotations

from functools import lru_cache

from common.groups import ATTRIBUTE_LABELS, zh_group

__all__ = ["feature_label", "feature_labels", "rule_title", "rule_text", "indicator_label", "incident_column_label",
           "alarm_text", "zh_group", "ATTRIBUTE_LABELS", "FAIRNESS_STATUS", "FIELD_LABELS"]

#: Incident fields watched by the data-quality check (monitoring.quality.FIELDS), in words.
FIELD_LABELS = {"address_code": "标准地址", "disposition": "处置结果", "flag_violence": "暴力标记",
                "flag_weapon": "持械标记", "flag_alcohol": "酒后标记", "flag_minor_present": "未成年人在场标记",
                "flag_threat": "威胁言语标记", "note": "警情描述", "dispute_id": "关联纠纷编号"}
_INCIDENT_COLUMNS = {"category": "警情类别构成", "disposition": "处置结果构成",
                     "threat_flag_missing": "威胁言语标记空缺比例"}
FAIRNESS_STATUS = {"ok": "正常", "flagged": "超出区间且差异显著", "outside_within_noise": "超出区间（在噪声范围内）",
                   "partly_judged": "部分指标可判定", "too_small": "样本过少"}


def feature_label(name: str) -> str:
    from features.catalog import CATALOG

    f = CATALOG.get(str(name))
    return f.label if f is not None else "其他特征"


def feature_labels(names, limit: int | None = None) -> str:
    names = list(names)
    shown = [feature_label(n) for n in names[:limit] if n]
    more = f"等 {len(names)} 项" if limit is not None and len(names) > limit else ""
    return "、".join(shown) + more if shown else "无"


@lru_cache(maxsize=1)
def _rule_titles() -> dict[str, str]:
    try:
        import rules

        return {r.id: r.title for r in rules.load_ruleset().rules}
    except Exception:  # noqa: BLE001  (a report without the rule set still names rules by their id)
        return {}


def rule_title(rule_id: str) -> str:
    return _rule_titles().get(str(rule_id), "")


def rule_text(rule_id: str) -> str:
    """A rule as people read it: its title with its id for reference, ``同一纠纷一周内…（RD001）``."""
    title = rule_title(rule_id)
    return f"{title}（规则 {rule_id}）" if title else f"规则 {rule_id}"


def indicator_label(indicator: str) -> str:
    if indicator == "late_over_1d":
        return "迟报超过1天的比例"
    if indicator.startswith("missing:"):
        field = indicator.removeprefix("missing:")
        return f"{FIELD_LABELS.get(field, '其他字段')}缺失率"
    return "其他指标"


def incident_column_label(column: str) -> str:
    return _INCIDENT_COLUMNS.get(column, "警情记录")


def alarm_text(item: dict) -> str:
    """One structured alarm of ``summary.json`` (``alarm_items``) as a Chinese sentence."""
    kind = item.get("kind")
    if kind == "feature_share":
        return (f"特征漂移：{item['share']:.0%} 的特征发生漂移（阈值 {item['threshold']:.0%}），包括 "
                f"{feature_labels(item.get('features', []), limit=10)}")
    if kind == "watched_features":
        return f"重点关注的特征发生漂移：{feature_labels(item.get('features', []))}"
    if kind == "prediction":
        return "预测漂移：冠军模型的风险评分分布发生明显变化"
    if kind == "incident":
        return f"警情记录漂移：{incident_column_label(item.get('column', ''))}发生变化"
    if kind == "quality":
        where = f"{item['region']} " if item.get("region") else "全省 "
        return (f"数据质量：{where}{indicator_label(item.get('indicator', ''))}由 {item['reference']:.1%} "
                f"升至 {item['current']:.1%}")
    if kind == "rule_rate":
        return (f"规则命中率变化：{rule_text(item['rule_id'])} 由 {item['reference']:.2%} 变为 "
                f"{item['current']:.2%}")
    return "其他告警"
