"""The end-to-end demo: every step calls the owning package, in flow order.

simulate -> features -> rules backtest -> train + register -> promote -> score -> alerts -> review
(by the labelled demo reviewer) -> push -> inbox -> outcomes (by labelled demo cadres) -> monitor ->
leadership report -> console. The demo reads the same settings as every command
(:class:`common.settings.Settings`): on embedded defaults everything lands under ``home`` (SQLite stores,
MLflow, reports); with ``WEIMENG_DATABASE_URL`` and ``WEIMENG_MLFLOW_TRACKING_URI`` (or
``MLFLOW_TRACKING_URI``) set, the alert store and MLflow live there instead, and the demo says where.

The demo is a list of typed steps (:data:`STEPS`); each step reads what earlier steps left in
:class:`DemoState` and returns one line for the person watching.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.settings import Settings, mask_url
from weimeng.quiet import third_party_to_log

__all__ = ["DemoConfig", "DemoResult", "DemoState", "Step", "STEPS", "run_demo"]


@dataclass
class DemoConfig:
    home: Path = Path("weimeng-data")
    people: int = 200_000
    days: int = 730
    seed: int = 42
    start_date: str = "2024-01-01"
    approve: int = 20
    dismiss: int = 3
    port: int = 8600
    serve: bool = True
    #: The process settings; ``None`` reads the environment (with ``home`` above as the data home).
    settings: Settings | None = None

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = Settings.from_env(home=self.home)

    @property
    def world(self) -> Path:
        return self.home / "world"

    @property
    def tracking_uri(self) -> str:
        assert self.settings is not None
        return self.settings.resolved_mlflow_uri

    @property
    def database_url(self) -> str:
        assert self.settings is not None
        return self.settings.resolved_database_url


@dataclass
class DemoResult:
    steps: list[tuple[str, str, float]] = field(default_factory=list)   # (step, outcome, seconds)
    artefacts: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)
    console: Any | None = None
    where: dict[str, str] = field(default_factory=dict)


@dataclass
class DemoState:
    """What the steps hand to each other (set in flow order; a step only reads what earlier ones set)."""

    summary: dict[str, Any] = field(default_factory=dict)
    end: Any = None                 # pandas Timestamp: the world's last day
    as_of: Any = None               # the scoring date (the world's last day, midnight)
    store: Any = None               # features.store.EventStore
    train: Any = None               # training result
    promotion_audit: dict[str, Any] = field(default_factory=dict)
    flagged: list[Any] = field(default_factory=list)
    watched: list[Any] = field(default_factory=list)       # scored people on the watch list (关注名单)
    alerts: Any = None              # serving.operations.alerts.AlertStore
    budget_line: str = ""           # the scoring run's volume against the alert budget
    world: Any = None               # serving.operations.console.world.World

    @property
    def engine(self) -> Any:
        return self.alerts.engine


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[DemoConfig, DemoState, DemoResult], str]


# 1. the synthetic world -----------------------------------------------------------------------------
def simulate_world(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    import pandas as pd

    from features.simulate import simulate

    s = simulate(people=cfg.people, days=cfg.days, seed=cfg.seed, out=cfg.world, start_date=cfg.start_date)
    st.summary = s
    st.end = pd.Timestamp(s["end_date"])
    st.as_of = st.end.normalize()
    res.artefacts["合成世界 world"] = str(cfg.world)
    return (f"{s['people']:,} 人，涉警 {s['involved_people']:,} 人，警情 {s['tables']['incidents']:,} 起，"
            f"结局事件 {s['outcomes']:,} 起")


# 2. point-in-time features ----------------------------------------------------------------------------
def compute_features(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from features.store import EventStore

    st.store = EventStore.open(cfg.world)
    frame = st.store.features(st.as_of)
    out = cfg.home / "features" / f"features_{st.as_of.date()}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    res.artefacts["时点特征 features"] = str(out)
    dropped = int(st.store.report.summary()["dropped"].sum())
    return f"{len(frame):,} 人 × {frame.shape[1] - 2} 项特征（as of {st.as_of.date()}），校验隔离 {dropped:,} 行"


# 3. rules backtest ------------------------------------------------------------------------------------
def backtest_rules(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    import pandas as pd

    import rules

    rs = rules.load_ruleset()
    bt = rules.backtest(st.store, rs, st.end - pd.DateOffset(months=9), st.end - pd.DateOffset(months=4))
    out = cfg.home / "reports" / "rules_backtest"
    bt.write(out)
    res.artefacts["规则回测 rules backtest"] = str(out)
    return f"规则集 {rs.version}（{len(rs.rule_ids)} 条规则）回测完成，报告见 {out}"


# 4. train and register --------------------------------------------------------------------------------
def train_model(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from training import train

    r = train(cfg.world, tracking_uri=cfg.tracking_uri, out_dir=cfg.home / "reports" / "training")
    st.train = r
    m = r.metrics
    card = getattr(r, "card", None)
    res.artefacts["模型卡 model card"] = str(card["html"] if isinstance(card, dict) and "html" in card
                                          else cfg.home / "reports" / "training")
    return (f"模型 v{r.version}（challenger）：ROC-AUC {m['roc_auc']:.3f}，"
            f"记录 oracle {m.get('oracle_records_roc_auc', float('nan')):.3f}，"
            f"容量下精确率 {m['precision_at_capacity']:.3f}，"
            f"规则基线 {m.get('rules_precision_at_capacity', float('nan')):.3f}")


# 5. promote (the gate first; the first champion needs a recorded human reason) ------------------------
def promote_model(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from training import PromotionRefused, promote

    try:
        report = promote(tracking_uri=cfg.tracking_uri, by="demo-analyst")
        how = "通过晋级门槛"
    except PromotionRefused as exc:
        reasons = "; ".join(str(x) for x in getattr(exc.report, "reasons", []) or [str(exc)])[:200]
        m = st.train.metrics
        flags, shared = m.get("reference_fairness_flags"), m.get("reference_fairness_flags_shared_with_oracle")
        measured = (f"；参照组差异标记 {int(flags)} 项，其中 {int(shared)} 项在记录真值上同样出现（源于各群体真实风险"
                    f"差异，非模型习得）" if flags and shared is not None else "")
        report = promote(tracking_uri=cfg.tracking_uri, force=True, by="demo-analyst（演示分析员）",
                         reason=f"演示：首个冠军模型，已人工查看模型卡与公平性标记{measured}（门槛未通过原因：{reasons}）")
        how = "门槛未通过，由演示分析员强制晋级并记录原因"
    st.promotion_audit = dict(version=st.train.version, by="demo-analyst（演示分析员）",
                              reason=getattr(report, "reason", None) or how, forced=bool(report.forced),
                              previous=getattr(report, "champion", None))
    return f"冠军模型 = v{st.train.version}（{how}）"


# 6. score everyone with recent records ----------------------------------------------------------------
def score_everyone(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from serving.scoring import ScoringApp, ServingSettings
    from serving.scoring.batch import budget_summary, score_population, watch_list

    settings = ServingSettings.load(None, {"home": str(cfg.home.resolve()), "data_dir": str(cfg.world.resolve()),
                                           "tracking_uri": cfg.tracking_uri, "auth_required": False})
    app = ScoringApp.start(settings, watch=False)
    table, scored = score_population(app, st.as_of)
    out = cfg.home / "scores" / f"scores_{st.as_of.date()}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    st.flagged = [p for p in scored if p.level != "none"]
    st.watched = [p for p in scored if p.extra.get("watch")]
    res.artefacts["评分 scores"] = str(out)
    levels = table["level"].value_counts()
    budget = budget_summary(table)
    urgent = int(table["urgent"].astype(bool).sum())
    st.budget_line = _budget_line(budget, urgent, len(watch_list(table)))
    return (f"{len(table):,} 人评分：红 {levels.get('red', 0)}、橙 {levels.get('orange', 0)}、"
            f"黄 {levels.get('yellow', 0)}，每条预警均附解释；{st.budget_line}")


def _budget_line(budget, urgent: int, watch: int) -> str:
    """本次预警 N 条 / 预算 M 条 (non-urgent alerts against the counties' budgets), urgent and watch list apart."""
    if budget is None or not len(budget) or budget["budget"].isna().all():
        return f"紧急预警 {urgent} 条（不占预算），关注名单 {watch} 人（未设预警预算）"
    alerts, total = int(budget["alerts"].sum()), int(budget["budget"].fillna(0).sum())
    over = int((budget["alerts"] > budget["budget"].fillna(0)).sum())
    return (f"本次预警 {alerts} 条 / 预算 {total} 条（{len(budget)} 个区县，超出预算的区县 {over} 个），"
            f"紧急预警 {urgent} 条（不占预算），关注名单 {watch} 人")


# 7. alerts --------------------------------------------------------------------------------------------
def file_alerts(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    import pandas as pd

    from serving.operations.alerts import AlertStore, Directory, upgrade
    from weimeng.audit_hooks import audit_promotion

    upgrade(cfg.database_url)
    st.alerts = AlertStore.open(cfg.database_url, directory=Directory.from_event_store(st.store))
    audit_state = audit_promotion(**st.promotion_audit, database_url=cfg.database_url)
    results = st.alerts.ingest(st.flagged)
    st.alerts.record_watch(st.flagged + st.watched)   # the watch list and the county budgets, for the console
    res.artefacts["预警库 alert store"] = mask_url(cfg.database_url)
    actions = pd.Series([r.action for r in results], dtype=object).value_counts()
    what = "、".join(f"{_INGEST_LABELS.get(str(k), str(k))} {int(v):,} 条" for k, v in actions.items()) or "无"
    return f"{len(results):,} 条预警入库（{what}），等待人工审核；模型晋级{audit_state}"


# 8. human review by the labelled demo reviewer ---------------------------------------------------------
def review_alerts(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from serving.operations.console.demo import demo_review, seed_demo_accounts
    from serving.operations.console.world import World

    st.world = World(event_store=st.store)
    accounts = seed_demo_accounts(st.engine, world=st.world)
    res.logins = [a.line() for a in accounts]
    done = demo_review(st.engine, st.world, approve=cfg.approve, dismiss=cfg.dismiss)
    return (f"演示审核员 demo-reviewer 已审核（每条均附理由并写入审计日志）：通过 {done['approved']} 条、"
            f"驳回 {done['dismissed']} 条、失败 {done['failed']} 条，仍待审核 {done['pending_left']} 条")


# 9. push ----------------------------------------------------------------------------------------------
def push_alerts(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from serving.operations.push.config import PushConfig
    from serving.operations.push.worker import PushWorker, build_adapters

    worker = PushWorker(st.engine, build_adapters(st.engine, PushConfig()))
    worker.run(drain=True, poll_seconds=0.01)
    delivered = st.alerts.deliveries(status="delivered")
    return f"推送到网格员/村社干部/社区民警收件箱 {len(delivered)} 条（户籍地与居住地分别送达）"


# 10. the cadres acknowledge and report (labelled demo cadres) -------------------------------------------
def report_outcomes(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    import sqlalchemy as sa

    from serving.operations.alerts.models import InboxItem
    from serving.operations.inbox.service import Identity, InboxService

    inbox = InboxService(st.engine)
    with st.engine.connect() as con:
        items = con.execute(sa.select(InboxItem.inbox_id, InboxItem.staff_id, InboxItem.alert_id)
                            .order_by(InboxItem.id)).all()
    kinds = ["visited", "resolved", "referred", "false_alarm"]
    acked = reported = 0
    for i, it in enumerate(items):
        who = Identity(it.inbox_id, it.staff_id, "演示干部 demo cadre")
        if i % 3 == 2:
            continue  # some cadres have not opened their inbox yet: the funnel shows it
        inbox.acknowledge(who, it.alert_id)
        acked += 1
        if i % 3 == 0:
            inbox.report_outcome(who, it.alert_id, kinds[(i // 3) % len(kinds)], note="演示：已上门了解情况")
            reported += 1
    return f"演示干部签收 {acked} 条、反馈走访结果 {reported} 条（结果回流为训练标签）"


# 10b. the grassroots loop: field reports, anonymous tips, one escalation (labelled demo cadres) ----------
def grassroots_loop(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    from datetime import timedelta

    import pandas as pd
    import sqlalchemy as sa

    from serving.operations.alerts.models import Alert
    from serving.operations.grassroots import Escalator, GrassrootsDirectory, GrassrootsService, TipIntake
    from serving.operations.inbox.service import Identity

    directory = GrassrootsDirectory.from_event_store(st.store)
    staff = st.store.table("staff")
    staff = staff[staff["active"].astype(bool) & staff["inbox_id"].notna() & staff["grid_id"].notna()]
    officers = staff[staff["role"] == "community_officer"]
    workers = staff[staff["role"] == "grid_worker"]
    grid = next(g for g in workers["grid_id"] if g in set(officers["grid_id"]))
    addresses = st.store.table("addresses")
    codes = list(addresses.loc[addresses["grid_id"] == grid, "address_code"].head(3))
    w = workers[workers["grid_id"] == grid].iloc[0]
    o = officers[officers["grid_id"] == grid].iloc[0]
    cadre = Identity(str(w["inbox_id"]), str(w["staff_id"]), "演示网格员 demo grid worker")
    officer = Identity(str(o["inbox_id"]), str(o["staff_id"]), "演示社区民警 demo officer")
    svc = GrassrootsService(st.engine, directory)
    forms = [("neighbour", "urgent", ["obs_threat", "obs_conflict_rising"], "演示：两户因漏水争吵，一方扬言要砸门"),
             ("family", "soon", ["obs_emotion"], "演示：夫妻长期争吵，女方情绪低落"),
             ("debt", "routine", [], "演示：欠款纠纷，双方约定下周协商")]
    reports = [svc.file_report(cadre, address_code=c, category=cat, urgency=u, observations_=obs, note=n)
               for c, (cat, u, obs, n) in zip(codes, forms, strict=False)]
    svc.sign(officer, "report", reports[0]["id"])
    svc.handle_report(officer, reports[0]["id"], "mediated", "演示：已组织双方调解")
    intake = TipIntake(st.engine, directory)
    tips = [intake.submit(codes[0], category="neighbour", urgency="soon", observations_=["obs_violence"],
                          note="演示：楼上深夜吵架摔东西", client=f"demo-{i}") for i in range(2)]
    intake.submit(codes[-1], category="other", note="演示：楼道堆物引发口角", client="demo-3")
    # one escalation: an alert without an outcome (unacknowledged if there is one), the clock moved to its deadline
    with st.engine.connect() as con:
        target = con.execute(sa.select(Alert.id, Alert.deadline_at, Alert.state)
                             .where(Alert.state.in_(["delivered", "acknowledged"]), Alert.deadline_at.is_not(None))
                             .order_by(Alert.state != "delivered", Alert.deadline_at).limit(1)).first()
    if target is not None:
        run = Escalator(st.engine).run_once(now=target.deadline_at, only=("alert", target.id))
        what = f"{'未签收' if target.state == 'delivered' else '已签收未反馈'}预警 #{target.id}"
    else:  # every pushed alert already has an outcome: the unsigned report rises instead
        late = reports[1]
        due = pd.Timestamp(late["deadline_at"]).to_pydatetime() + timedelta(seconds=1)  # the view keeps seconds
        run = Escalator(st.engine).run_once(now=due, only=("report", late["id"]))
        what = f"未签收排查上报 #{late['id']}"
    escalated = f"；演示时钟推进到处置期限：{what} 升至乡镇（街道）督办 {run.steps} 次"
    dup = sum(t["duplicate"] for t in tips)
    return (f"演示网格员上报排查 {len(reports)} 条（社区民警签收并处置 1 条）；居民扫码匿名反映 3 条"
            f"（重复 {dup} 条已合并，不记录任何提交者信息）{escalated}")


# 11. monitoring and the leadership report -------------------------------------------------------------
def monitor_and_report(cfg: DemoConfig, st: DemoState, res: DemoResult) -> str:
    import pandas as pd

    from monitoring.report import build_leadership_report
    from monitoring.run import run_monitor

    mon_dir = cfg.home / "monitoring" / str(st.as_of.date())
    m = run_monitor(cfg.world, st.as_of - pd.DateOffset(months=3), st.as_of - pd.DateOffset(months=1), mon_dir,
                    tracking_uri=cfg.tracking_uri, store=st.store, workspace=cfg.home / "evidently")
    # the month of data that ends with the world (its alerts are about that month), not the wall clock's month
    rep = build_leadership_report(cfg.home / "reports", period="monthly", store=st.store,
                                  engine=st.engine, monitor_summary=mon_dir / "summary.json")
    res.artefacts["漂移监测 monitoring"] = str(mon_dir)
    res.artefacts["监测历史 Evidently"] = f"DO_NOT_TRACK=1 .venv/bin/evidently ui --workspace {cfg.home / 'evidently'}"
    res.artefacts["领导报告 leadership report"] = str(rep.html)
    state = "无告警" if not m.alarms else f"{len(m.alarms)} 项告警"
    return f"监测：{state}；领导月报已生成"


STEPS: tuple[Step, ...] = (
    Step("1. 模拟合成世界 simulate", simulate_world),
    Step("2. 计算时点特征 features", compute_features),
    Step("3. 规则回测 rules backtest", backtest_rules),
    Step("4. 训练并登记模型 train + register", train_model),
    Step("5. 晋级冠军模型 promote", promote_model),
    Step("6. 批量评分与解释 score", score_everyone),
    Step("7. 预警入库 alerts", file_alerts),
    Step("8. 人工审核（演示审核员）review", review_alerts),
    Step("9. 推送到收件箱 push", push_alerts),
    Step("10. 签收与走访反馈 outcomes", report_outcomes),
    Step("10b. 排查上报、匿名线索与逐级督办 grassroots", grassroots_loop),
    Step("11. 监测与领导报告 monitor + report", monitor_and_report),
)


_INGEST_LABELS = {"created": "新建", "raised": "升级", "updated": "更新评分", "suppressed": "冷却期内不重复"}


def run_demo(cfg: DemoConfig, echo: Callable[[str], None] = print, steps: tuple[Step, ...] = STEPS) -> DemoResult:
    """Run ``steps`` in order; then (``cfg.serve``) start the console on the demo's alerts."""
    res = DemoResult()
    cfg.home.mkdir(parents=True, exist_ok=True)
    assert cfg.settings is not None
    res.where = {"数据目录 home": str(cfg.home.resolve()), "预警库 alert store": mask_url(cfg.database_url),
                 "模型登记 MLflow": mask_url(cfg.tracking_uri)}
    echo("写入位置 / where: " + "；".join(f"{k} {v}" for k, v in res.where.items()))
    echo(f"第三方库的日志与警告写入 / library logs and warnings go to {cfg.home / 'demo.log'}")
    st = DemoState()
    with third_party_to_log(cfg.home / "demo.log"):
        for step in steps:
            echo(f"[bold cyan]▶ {step.name}[/]")
            t = time.perf_counter()
            outcome = step.run(cfg, st, res)
            dt = time.perf_counter() - t
            res.steps.append((step.name, outcome, dt))
            echo(f"  ✓ {outcome} [dim]({dt:.1f} 秒)[/]")

    (cfg.home / "demo.json").write_text(json.dumps(
        {"steps": [{"step": s, "outcome": o, "seconds": round(t, 1)} for s, o, t in res.steps],
         "artefacts": res.artefacts, "where": res.where}, ensure_ascii=False, indent=1), encoding="utf-8")

    # 12. the console ----------------------------------------------------------------------------------
    if cfg.serve and st.alerts is not None:
        from serving.operations.console.demo import start_console

        res.console = start_console(st.engine, world=st.world, event_store=st.store, data_dir=cfg.world,
                                    reports_dir=cfg.home / "reports", tracking_uri=cfg.tracking_uri, port=cfg.port)
    return res
