"""The feature catalog: every feature declared once, as data.

A :class:`Feature` carries its engine-neutral SQL (an aggregate over the prepared event relation
``ev`` joined to snapshot times), its Chinese label and unit, and how to phrase it in an explanation.
The batch path, the online path, the rules loader and the explanation code all look features up by
name here; nothing else defines a feature.

SQL conventions (plain ANSI SQL, integer arithmetic only, so any engine can run it):

* ``ev.age`` is ``as_of_ts - ev.ts`` in seconds (always > 0: events at or after as-of are excluded);
* ``ev.src`` is one of ``incident``, ``mediation``, ``care``, ``outcome``, ``contact``, ``report`` (a cadre's
  field report), ``tip`` (an anonymous resident's tip; about everyone at the address unless an officer linked a
  person);
* blocks ``dispute`` and ``counterparty`` aggregate per dispute / per other party first (``sql``),
  then per person (``outer``, with ``{x}`` the per-group value): no COUNT(DISTINCT), which is slow;
* incident rows carry ``cat``, ``role``, ``disp``, the 0/1 flags and keyword hits.

>>> from features.catalog import CATALOG
>>> CATALOG["calls_30d"].phrase(4)
'近30天报警4次'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from features.contracts import CATEGORY_LABELS, INCIDENT_CATEGORIES
from features.errors import UnknownFeatureError

__all__ = [
    "Feature",
    "CATALOG",
    "CATALOG_VERSION",
    "FEATURE_NAMES",
    "RISK_CATEGORIES",
    "PROTECTED_ATTRIBUTES",
    "get_feature",
    "DAY",
    "NOTE_KEYWORDS",
]

CATALOG_VERSION = "2026.12.1"
DAY = 86400

#: The four categories of DESIGN.md (四类重点人员), code -> Chinese label.
RISK_CATEGORIES: dict[str, str] = {
    "repeat_dispute": "因矛盾纠纷激化重复报警",
    "family_emotion": "婚恋家事引发极端情绪",
    "retaliation": "有报复社会倾向",
    "harm_risk": "有肇事肇祸危险",
}

#: Attributes kept for fairness audits only; never model features or rule inputs.
PROTECTED_ATTRIBUTES = frozenset({
    "sex", "birth_year", "age", "age_band", "ethnicity", "religion", "prefecture_code", "county_code",
    "is_urban", "urban_rural", "political_activity",
})

#: Keyword groups searched in incident notes (RE2 syntax). Phrases already counted by a more specific
#: group are removed first (``exclude``), so "报复社会" counts as society, not as personal retaliation.
NOTE_KEYWORDS: dict[str, dict[str, str]] = {
    "kw_society": {"pattern": "报复社会|人多的地方闹事|社会不公", "exclude": ""},
    "kw_retaliation": {"pattern": "报复|同归于尽|弄死|不得安宁|砍死", "exclude": "报复社会"},
    "kw_emotion": {"pattern": "不想活|跳楼|农药|一了百了|轻生", "exclude": ""},
    "kw_harm": {"pattern": "精神病|发作|失控|精神障碍|未服药", "exclude": ""},
}

Block = Literal["events", "dispute", "counterparty", "grid", "person"]


@dataclass(frozen=True)
class Feature:
    """One feature. ``sql`` is an aggregate expression within its block (see module docstring)."""

    name: str
    block: Block
    sql: str
    label: str                      # Chinese label, e.g. "近30天报警次数"
    unit: str                       # Chinese unit, e.g. "次", "天", "" for flags
    template: str                   # explanation phrase with {v}, e.g. "近30天报警{v}次"
    categories: tuple[str, ...] = ()  # which of RISK_CATEGORIES it speaks to
    kind: Literal["count", "days", "rate", "flag"] = "count"
    description: str = ""
    #: For nested blocks (dispute, counterparty): how per-group values ``{x}`` become one value.
    outer: str = "MAX({x})"

    def phrase(self, value) -> str:
        """Fill the template with a value formatted for people (integers without decimals)."""
        if value is None or value != value:  # NaN
            return f"{self.label}：无记录"
        if self.kind in ("count", "days", "flag"):
            v = f"{int(round(float(value)))}"
        else:
            v = f"{float(value):.1f}"
        return self.template.format(v=v)


def _inc(window_days: int | None, cond: str = "1=1") -> str:
    w = f" AND ev.age < {window_days * DAY}" if window_days else ""
    return f"SUM(CASE WHEN ev.src = 'incident'{w} AND {cond} THEN 1 ELSE 0 END)"


def _src(src: str, window_days: int | None, cond: str = "1=1") -> str:
    w = f" AND ev.age < {window_days * DAY}" if window_days else ""
    return f"SUM(CASE WHEN ev.src = '{src}'{w} AND {cond} THEN 1 ELSE 0 END)"


def _days_since(src: str, cond: str = "1=1", agg: str = "MIN") -> str:
    return f"{agg}(CASE WHEN ev.src = '{src}' AND {cond} THEN ev.age END) / {DAY}.0"


_features: list[Feature] = []


def _add(*features: Feature) -> None:
    _features.extend(features)


for w in (7, 30, 90, 365):
    _add(Feature(f"calls_{w}d", "events", _inc(w), f"近{w}天报警次数", "次", f"近{w}天报警{{v}}次",
                 ("repeat_dispute",), description=f"Police calls involving the person in the last {w} days."))

_CAT_RISK = {"family": ("family_emotion",), "marital": ("family_emotion",)}
for cat in INCIDENT_CATEGORIES:
    label = CATEGORY_LABELS[cat]
    _add(Feature(f"calls_{cat}_365d", "events", _inc(365, f"ev.cat = '{cat}'"), f"近一年{label}报警次数", "次",
                 f"近一年因{label}报警{{v}}次", _CAT_RISK.get(cat, ("repeat_dispute",)),
                 description=f"Calls about {cat} disputes in the last 365 days."))

_add(
    Feature("calls_family_marital_90d", "events", _inc(90, "ev.cat IN ('family', 'marital')"),
            "近90天婚恋家庭纠纷报警次数", "次", "近90天因婚恋家庭纠纷报警{v}次", ("family_emotion",)),
    Feature("days_since_last_call", "events", _days_since("incident"), "距最近一次报警天数", "天",
            "距最近一次报警仅{v}天", ("repeat_dispute",), kind="days"),
    Feature("days_since_first_call", "events", _days_since("incident", agg="MAX"), "距首次报警天数（两年内）", "天",
            "首次报警距今{v}天", ("repeat_dispute",), kind="days"),
    Feature("call_trend_30d", "events", f"({_inc(30)}) - (({_inc(90)}) - ({_inc(30)})) / 2.0",
            "报警频次趋势（近30天较此前60天月均）", "次", "报警频次较前两月月均增加{v}次", ("repeat_dispute",),
            kind="rate"),
    Feature("violence_90d", "events", _inc(90, "ev.violence = 1"), "近90天涉暴力警情次数", "次",
            "近90天有{v}次警情涉及肢体冲突", ("repeat_dispute", "retaliation")),
    Feature("violence_365d", "events", _inc(365, "ev.violence = 1"), "近一年涉暴力警情次数", "次",
            "近一年有{v}次警情涉及肢体冲突", ("repeat_dispute", "retaliation")),
    Feature("weapon_365d", "events", _inc(365, "ev.weapon = 1"), "近一年涉刀具器械警情次数", "次",
            "近一年有{v}次警情涉及刀具或器械", ("retaliation",)),
    Feature("alcohol_90d", "events", _inc(90, "ev.alcohol = 1"), "近90天酒后警情次数", "次",
            "近90天有{v}次酒后滋事或酒后纠纷", ("family_emotion", "repeat_dispute")),
    Feature("threat_30d", "events", _inc(30, "ev.threat = 1"), "近30天扬言伤人或自伤次数", "次",
            "近30天记录中有{v}次扬言伤人或自伤", ("retaliation", "family_emotion")),
    Feature("threat_90d", "events", _inc(90, "ev.threat = 1"), "近90天扬言伤人或自伤次数", "次",
            "近90天记录中有{v}次扬言伤人或自伤", ("retaliation", "family_emotion")),
    Feature("threat_365d", "events", _inc(365, "ev.threat = 1"), "近一年扬言伤人或自伤次数", "次",
            "近一年记录中有{v}次扬言伤人或自伤", ("retaliation",)),
    Feature("minor_present_365d", "events", _inc(365, "ev.minor = 1"), "近一年有未成年人在场的警情次数", "次",
            "近一年有{v}次警情有未成年人在场", ("family_emotion",)),
    Feature("kw_retaliation_90d", "events", _inc(90, "ev.kw_retaliation = 1"), "近90天记录含报复性言语次数", "次",
            "近90天警情记录中{v}次出现“报复”“同归于尽”等言语", ("retaliation",)),
    Feature("kw_retaliation_365d", "events", _inc(365, "ev.kw_retaliation = 1"), "近一年记录含报复性言语次数", "次",
            "近一年警情记录中{v}次出现报复性言语", ("retaliation",)),
    Feature("kw_society_365d", "events", _inc(365, "ev.kw_society = 1"), "近一年记录含报复社会言语次数", "次",
            "近一年警情记录中{v}次出现针对社会的报复言语", ("retaliation",)),
    Feature("kw_emotion_90d", "events", _inc(90, "ev.kw_emotion = 1"), "近90天记录含轻生或极端情绪言语次数", "次",
            "近90天警情记录中{v}次出现“不想活了”等极端情绪言语", ("family_emotion",)),
    Feature("kw_harm_365d", "events", _inc(365, "ev.kw_harm = 1"), "近一年记录含病情失控描述次数", "次",
            "近一年警情记录中{v}次提到病情发作或失控", ("harm_risk",)),
    Feature("as_suspect_365d", "events", _inc(365, "ev.role = 'suspect'"), "近一年作为嫌疑方次数", "次",
            "近一年{v}次作为警情嫌疑方", ("retaliation", "repeat_dispute")),
    Feature("as_victim_365d", "events", _inc(365, "ev.role = 'victim'"), "近一年作为受害方次数", "次",
            "近一年{v}次作为警情受害方", ("family_emotion",)),
    Feature("as_caller_90d", "events", _inc(90, "ev.role = 'caller'"), "近90天本人报警次数", "次",
            "近90天本人报警{v}次", ("repeat_dispute",)),
    Feature("unresolved_90d", "events", _inc(90, "ev.disp = 'unresolved'"), "近90天未化解警情次数", "次",
            "近90天有{v}次警情现场未能化解", ("repeat_dispute",)),
    Feature("case_filed_365d", "events", _inc(365, "ev.disp = 'case_filed'"), "近一年警情立案次数", "次",
            "近一年有{v}次警情已立案", ("retaliation",)),
    Feature("referred_365d", "events", _inc(365, "ev.disp = 'referred'"), "近一年警情移交次数", "次",
            "近一年有{v}次警情移交相关部门", ("repeat_dispute",)),
    Feature("distinct_disputes_365d", "dispute", "MIN(ev.age)", "近一年涉及的不同纠纷数", "起",
            "近一年涉及{v}起不同纠纷", ("repeat_dispute",),
            outer=f"SUM(CASE WHEN {{x}} < {365 * DAY} THEN 1 ELSE 0 END)"),
    Feature("distinct_counterparties_365d", "counterparty", "MIN(ev.age)", "近一年警情中的不同对方当事人数", "人",
            "近一年与{v}名不同当事人发生警情", ("repeat_dispute",),
            outer=f"SUM(CASE WHEN {{x}} < {365 * DAY} THEN 1 ELSE 0 END)"),
    Feature("night_calls_90d", "events", _inc(90, "ev.night = 1"), "近90天夜间警情次数", "次",
            "近90天有{v}次夜间（22时至次日5时）警情", ("family_emotion", "repeat_dispute")),
    Feature("mediations_365d", "events", _src("mediation", 365), "近一年调解次数", "次", "近一年经历调解{v}次",
            ("repeat_dispute",)),
    Feature("failed_mediations_90d", "events", _src("mediation", 90, "ev.med_result = 'failed'"),
            "近90天调解失败次数", "次", "近90天调解失败{v}次", ("repeat_dispute", "retaliation")),
    Feature("failed_mediations_365d", "events", _src("mediation", 365, "ev.med_result = 'failed'"),
            "近一年调解失败次数", "次", "近一年调解失败{v}次", ("repeat_dispute",)),
    Feature("successful_mediations_90d", "events", _src("mediation", 90, "ev.med_result = 'success'"),
            "近90天调解成功次数", "次", "近90天调解成功{v}次", ("repeat_dispute",)),
    Feature("days_since_failed_mediation", "events", _days_since("mediation", "ev.med_result = 'failed'"),
            "距最近一次调解失败天数", "天", "距最近一次调解失败仅{v}天", ("repeat_dispute",), kind="days"),
    Feature("care_records_365d", "events", _src("care", 365), "近一年关爱随访记录数", "条",
            "近一年有{v}条关爱随访记录", ("harm_risk",)),
    Feature("care_missed_followup_180d", "events", _src("care", 180, "ev.care_kind = 'missed_followup'"),
            "近180天失访次数", "次", "近180天随访失联{v}次", ("harm_risk",)),
    Feature("care_medication_stopped_180d", "events", _src("care", 180, "ev.care_kind = 'medication_stopped'"),
            "近180天停药记录次数", "次", "近180天有{v}次擅自停药记录", ("harm_risk",)),
    Feature("care_crisis_365d", "events", _src("care", 365, "ev.care_kind = 'crisis'"),
            "近一年危机干预次数", "次", "近一年有{v}次危机干预记录", ("harm_risk",)),
    Feature("prior_outcomes", "events", _src("outcome", None), "既往民转刑或极端事件次数", "次",
            "既往发生过{v}次民转刑或极端事件", ("retaliation", "harm_risk")),
    Feature("days_since_prior_outcome", "events", _days_since("outcome"), "距既往事件天数", "天",
            "距上次民转刑或极端事件{v}天", ("retaliation",), kind="days"),
    Feature("max_calls_same_dispute_7d", "dispute", f"SUM(CASE WHEN ev.age < {7 * DAY} THEN 1 ELSE 0 END)",
            "近7天同一纠纷最多报警次数", "次", "近7天因同一纠纷报警{v}次", ("repeat_dispute",)),
    Feature("max_calls_same_dispute_30d", "dispute", f"SUM(CASE WHEN ev.age < {30 * DAY} THEN 1 ELSE 0 END)",
            "近30天同一纠纷最多报警次数", "次", "近30天因同一纠纷报警{v}次", ("repeat_dispute",)),
    Feature("grid_calls_90d_per_1k", "grid", "", "居住网格近90天每千人警情数", "起/千人",
            "所在网格近90天每千人警情{v}起", ("repeat_dispute",), kind="rate",
            description="Calls in the person's residence grid in the last 90 days per 1,000 residents."),
    Feature("days_at_residence", "person", "", "在现居住地居住天数", "天", "在现住址居住{v}天", (), kind="days"),
    Feature("lives_away_from_hukou", "person", "", "人户分离", "", "人户分离（户籍地与居住地不同）", (),
            kind="flag"),
)

# -- the grassroots channels (issue 18): cadres' field reports and residents' anonymous tips ---------------
for w in (30, 90):
    _add(Feature(f"reports_{w}d", "events", _src("report", w), f"近{w}天网格员排查上报次数", "次",
                 f"近{w}天网格员排查上报{{v}}次", ("repeat_dispute",),
                 description=f"Field reports by grid workers, cadres or community officers in the last {w} days."))
_add(
    Feature("reports_urgent_90d", "events", _src("report", 90, "ev.gr_urgent = 1"), "近90天紧急排查上报次数", "次",
            "近90天有{v}次排查上报标为紧急", ("repeat_dispute", "retaliation")),
    Feature("reports_threat_90d", "events", _src("report", 90, "ev.threat = 1"), "近90天排查发现扬言伤人或自伤次数",
            "次", "近90天网格员排查{v}次发现扬言伤人或自伤", ("retaliation", "family_emotion")),
    Feature("reports_rising_90d", "events", _src("report", 90, "ev.gr_rising = 1"), "近90天排查发现矛盾激化次数",
            "次", "近90天网格员排查{v}次发现矛盾有激化迹象", ("repeat_dispute",)),
    Feature("reports_emotion_90d", "events", _src("report", 90, "ev.gr_emotion = 1"),
            "近90天排查发现情绪异常次数", "次", "近90天网格员排查{v}次发现当事人情绪激动或消沉", ("family_emotion",)),
    Feature("reports_harm_90d", "events", _src("report", 90, "ev.gr_harm = 1"), "近90天排查发现病情失控迹象次数",
            "次", "近90天网格员排查{v}次发现疑似病情发作或失控", ("harm_risk",)),
    Feature("reports_family_90d", "events", _src("report", 90, "ev.cat IN ('family', 'marital')"),
            "近90天婚恋家庭矛盾排查上报次数", "次", "近90天网格员{v}次上报婚恋家庭矛盾", ("family_emotion",)),
    Feature("days_since_last_report", "events", _days_since("report"), "距最近一次排查上报天数", "天",
            "距最近一次网格员排查上报仅{v}天", ("repeat_dispute",), kind="days"),
    Feature("tips_90d", "events", _src("tip", 90), "近90天居民匿名反映次数", "次", "近90天居民匿名反映{v}次",
            ("repeat_dispute",),
            description="Anonymous tips about the person, or about the person's residence address, in 90 days. "
                        "Weighs less than a verified record: the model learns its weight from outcomes."),
    Feature("tips_365d", "events", _src("tip", 365), "近一年居民匿名反映次数", "次", "近一年居民匿名反映{v}次",
            ("repeat_dispute",)),
    Feature("tips_threat_90d", "events", _src("tip", 90, "ev.threat = 1 OR ev.violence = 1"),
            "近90天匿名反映涉扬言或肢体冲突次数", "次", "近90天居民匿名反映{v}次涉及扬言伤人或肢体冲突",
            ("retaliation", "repeat_dispute")),
)

CATALOG: dict[str, Feature] = {f.name: f for f in _features}
FEATURE_NAMES: tuple[str, ...] = tuple(CATALOG)
assert len(CATALOG) == len(_features), "duplicate feature names in the catalog"
assert not (set(CATALOG) & PROTECTED_ATTRIBUTES)


def get_feature(name: str) -> Feature:
    try:
        return CATALOG[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, FEATURE_NAMES, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise UnknownFeatureError(f"unknown feature {name!r}: not in catalog {CATALOG_VERSION}.{hint}") from None
