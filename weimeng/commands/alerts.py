"""`weimeng db ...`, `weimeng alerts ...` and `weimeng push-worker`: thin wrappers over serving.operations.alerts/push.

Mount in ``weimeng/cli.py``::

    from weimeng.commands import alerts as alerts_cmd
    app.add_typer(alerts_cmd.db_app, name="db")
    app.add_typer(alerts_cmd.alerts_app, name="alerts")
    app.command(name="push-worker")(alerts_cmd.push_worker_command)

``python -m weimeng.commands.alerts ...`` runs the same commands stand-alone (tests use it).
The database URL comes from ``--url``, else ``Settings`` (``WEIMENG_DATABASE_URL``, default SQLite
under the data home). Bad input prints one message (Chinese first) and exits with code 2 (``weimeng.errors``).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import typer

from common.errors import Conflict
from weimeng.errors import WeimengGroup

__all__ = ["db_app", "alerts_app", "push_worker_command", "app", "main"]

db_app = typer.Typer(cls=WeimengGroup, help="告警库迁移 / alert store migrations (Alembic).", no_args_is_help=True)
alerts_app = typer.Typer(cls=WeimengGroup, help="预警运维：过期、缺口、死信、令牌、收件箱 / alert operations.",
                         no_args_is_help=True)

URL_OPT = typer.Option(None, "--url", help="数据库 URL / database URL (default: WEIMENG_DATABASE_URL or SQLite)")


def _url(url: str | None) -> str:
    if url:
        return url
    from common.settings import Settings

    return Settings.from_env().resolved_database_url


def _store(url: str | None):
    from serving.operations.alerts import AlertStore

    return AlertStore.open(_url(url))


# -- db ------------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(url: str | None = URL_OPT,
               revision: str = typer.Option("head", "--revision", help="目标版本 / target revision")) -> None:
    """升级告警库到最新结构 / Apply the alert-store migrations."""
    from serving.operations.alerts.db import make_engine, upgrade

    engine = make_engine(_url(url))
    rev = upgrade(engine, revision)
    typer.echo(f"告警库已升级 / alert store at revision {rev} ({engine.url.render_as_string(hide_password=True)})")


@db_app.command("current")
def db_current(url: str | None = URL_OPT) -> None:
    """显示当前版本 / Show the current and the latest revision."""
    from serving.operations.alerts.db import current_revision, head_revision, make_engine

    engine = make_engine(_url(url))
    cur, head = current_revision(engine), head_revision()
    typer.echo(f"当前 current: {cur or '（未初始化 / empty）'}；最新 head: {head}")
    if cur != head:
        raise typer.Exit(1)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="目标版本，如 base / target revision, e.g. base"),
                 url: str | None = URL_OPT) -> None:
    """回退告警库结构 / Downgrade the alert store (drops data of newer tables)."""
    from serving.operations.alerts.db import downgrade, make_engine

    rev = downgrade(make_engine(_url(url)), revision)
    typer.echo(f"告警库已回退 / alert store at revision {rev or 'base'}")


# -- alerts --------------------------------------------------------------------------------------
@alerts_app.command("sweep")
def alerts_sweep(url: str | None = URL_OPT) -> None:
    """处理过期与自动办结 / Expire overdue alerts and close those with an old outcome."""
    out = _store(url).sweep()
    typer.echo(f"已过期 expired: {out['expired']}；已办结 closed: {out['closed']}")


@alerts_app.command("gaps")
def alerts_gaps(url: str | None = URL_OPT) -> None:
    """分派缺口报告 / Routing gaps: grids without reachable staff (fallback used or unreachable)."""
    gaps = _store(url).routing_gaps()
    if not gaps:
        typer.echo("没有分派缺口 / no routing gaps")
        return
    for g in gaps:
        typer.echo(f"#{g.alert_id}\t{g.place}\t{g.grid_id or '-'}\t{g.township_code or '-'}\t{g.kind}\t{g.detail}")


@alerts_app.command("dead-letters")
def alerts_dead_letters(url: str | None = URL_OPT) -> None:
    """死信列表 / Deliveries that were given up, with reasons."""
    rows = _store(url).dead_letters()
    if not rows:
        typer.echo("没有死信 / no dead letters")
    for d in rows:
        typer.echo(f"{d.id}\t#{d.alert_id}\t{d.channel}\t{d.inbox_id}\t{d.attempts}\t{d.dead_reason}")


@alerts_app.command("requeue")
def alerts_requeue(delivery_id: int = typer.Argument(...), by: str = typer.Option(..., "--by"),
                   reason: str = typer.Option(..., "--reason"), url: str | None = URL_OPT) -> None:
    """重新投递死信 / Put a dead-lettered delivery back in the queue."""
    from serving.operations import audit

    store = _store(url)
    store.requeue(delivery_id, by=by, reason=reason)
    audit.record(store.engine, "cli:alerts requeue", "delivery.requeue", f"delivery:{delivery_id}", {"by": by})
    typer.echo(f"已重新排队 / delivery {delivery_id} requeued")


@alerts_app.command("issue-token")
def alerts_issue_token(inbox_id: str = typer.Option(..., "--inbox-id", help="收件箱标识（小程序 openid）"),
                       staff_id: str | None = typer.Option(None, "--staff-id"),
                       label: str | None = typer.Option(None, "--label"), url: str | None = URL_OPT) -> None:
    """发放收件箱令牌（只显示一次）/ Issue an inbox bearer token (shown once; stored hashed)."""
    from serving.operations import audit
    from serving.operations.inbox.tokens import issue_inbox_token

    engine = _store(url).engine
    token = issue_inbox_token(engine, inbox_id, staff_id=staff_id, label=label)
    audit.record(engine, "cli:alerts issue-token", "inbox.token_issued", f"inbox:{inbox_id}",
                 {"staff_id": staff_id, "label": label})
    typer.echo(token)


@alerts_app.command("revoke-tokens")
def alerts_revoke_tokens(inbox_id: str = typer.Option(..., "--inbox-id"), url: str | None = URL_OPT) -> None:
    """吊销某收件箱的全部令牌 / Revoke every token of one inbox."""
    from serving.operations import audit
    from serving.operations.inbox.tokens import revoke_inbox_tokens

    engine = _store(url).engine
    n = revoke_inbox_tokens(engine, inbox_id)
    audit.record(engine, "cli:alerts revoke-tokens", "inbox.tokens_revoked", f"inbox:{inbox_id}", {"revoked": n})
    typer.echo(f"已吊销 revoked: {n}")


@alerts_app.command("serve-inbox")
def alerts_serve_inbox(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8700, "--port"),
                       url: str | None = URL_OPT,
                       data: Path | None = typer.Option(
                           None, "--data", help="世界数据目录：开启掌上排查上报 / the data directory: also serve the "
                                                "field-report routes")) -> None:
    """启动收件箱 API 与手机网页 / Serve the inbox API and the mobile page (uvicorn)."""
    import uvicorn

    from serving.operations.alerts.db import make_engine
    from serving.operations.inbox import create_app

    directory = _grassroots_directory(data) if data else None
    app_ = create_app(make_engine(_url(url)), directory=directory)
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


def _grassroots_directory(data: Path):
    from features.store import EventStore
    from serving.operations.grassroots import GrassrootsDirectory

    return GrassrootsDirectory.from_event_store(EventStore.open(data, progress=False))


@alerts_app.command("escalate")
def alerts_escalate(url: str | None = URL_OPT) -> None:
    """逐级督办：逾期未签收或未办结的预警、上报、线索升一级 / Escalate overdue alerts, reports and tips once."""
    from serving.operations.alerts.db import make_engine, require_current
    from serving.operations.grassroots.directory import LEVEL_LABELS
    from serving.operations.grassroots.escalation import Escalator

    engine = make_engine(_url(url))
    require_current(engine)
    run = Escalator(engine).run_once()
    parts = "，".join(f"{LEVEL_LABELS[k]} {v} 件" for k, v in (run.by_level or {}).items())
    typer.echo(f"逐级督办 {run.steps} 件" + (f"（{parts}）" if parts else ""))


def _watch_digest_job(engine, cfg, data: Path | None):
    """The weekly digest job over the world's directory (routing: persons, addresses, grids, staff)."""
    from features.store import EventStore
    from serving.operations.alerts.routing import Directory
    from serving.operations.push.digest import WatchDigestJob

    if data is None:
        from common.settings import Settings

        data = Settings.from_env().world_dir
    directory = Directory.from_event_store(EventStore.open(data, progress=False))
    return WatchDigestJob(engine, directory, config=cfg.watch_digest)


def _digest_off():
    from serving.operations.alerts.errors import ConfigurationError

    return ConfigurationError("关注名单周报未开启 / the weekly watch-list digest is off (the default); set "
                              "watch_digest: {enabled: true} in the push config and pass it with --config FILE.")


@alerts_app.command("watch-digest")
def alerts_watch_digest(url: str | None = URL_OPT,
                        config: Path | None = typer.Option(None, "--config", help="推送配置 YAML（watch_digest 节）/ "
                                                                                "push config with watch_digest"),
                        data: Path | None = typer.Option(None, "--data", help="世界数据目录（分派用）/ the data "
                                                                            "directory (default: HOME/world)"),
                        ) -> None:
    """本周关注名单：每名网格人员一份，同一周重复运行不重复送达 / Deliver this week's watch-list digest now
    (one list per cadre per Beijing week; idempotent)."""
    from serving.operations.alerts.db import make_engine, require_current
    from serving.operations.push import PushConfig

    cfg = PushConfig.from_file(config) if config else PushConfig()
    if not cfg.watch_digest.enabled:
        raise _digest_off()
    engine = make_engine(_url(url))
    require_current(engine)
    run = _watch_digest_job(engine, cfg, data).run_once()
    week = run.week
    when = f"{week.month}月{week.day}日起一周" if week else "本周"
    typer.echo(f"关注名单周报（{when}）：本次送达 {run.delivered} 份（共 {run.people} 人次），"
               f"此前已送达 {run.already} 份；已转为预警未列入 {run.alerted} 人，无法分派 {run.unroutable} 人")


@alerts_app.command("export-grassroots")
def alerts_export_grassroots(out: Path = typer.Option(..., "--out", help="数据目录 / the data directory to write into"),
                             url: str | None = URL_OPT) -> None:
    """导出排查上报与匿名线索为数据表 / Write the store's field reports and tips as contract tables."""
    from serving.operations.alerts.db import make_engine, require_current
    from serving.operations.grassroots.export import export_tables

    engine = make_engine(_url(url))
    require_current(engine)
    n = export_tables(engine, out)
    typer.echo(f"已导出排查上报 {n['field_reports']} 条、匿名线索 {n['tips']} 条：{out}")


@alerts_app.command("tip-qr")
def alerts_tip_qr(data: Path = typer.Option(..., "--data", help="世界数据目录（标准地址）/ the data directory"),
                  base_url: str = typer.Option(..., "--base-url", help="线索页的公网地址 / public base URL, e.g. "
                                                                       "https://host"),
                  out: Path = typer.Option(..., "--out", help="输出目录 / output folder"),
                  prefix: str | None = typer.Option(None, "--prefix", help="只打印该村/乡镇/区县代码下的地址"),
                  limit: int | None = typer.Option(None, "--limit", min=1)) -> None:
    """按楼栋打印匿名线索二维码（SVG）/ Write one tip-page QR code (SVG) per building, plus index.csv."""
    from features.store import EventStore
    from serving.operations.grassroots.qr import write_qr_codes

    n = write_qr_codes(EventStore.open(data, progress=False).table("addresses"), base_url, out, prefix=prefix,
                       limit=limit)
    typer.echo(f"已生成 {n} 个楼栋二维码：{out}")


@alerts_app.command("serve-tips")
def alerts_serve_tips(data: Path = typer.Option(..., "--data", help="世界数据目录（标准地址）/ the data directory"),
                      host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8710, "--port"),
                      url: str | None = URL_OPT) -> None:
    """启动匿名线索页（扫楼栋二维码进入，/tip/地址码）/ Serve the public tip page at /tip/{address_code}.

    No access log: the page keeps nothing about whoever sends a tip (docs/grassroots.md)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from serving.operations.alerts.db import make_engine, require_current
    from serving.operations.grassroots import TipIntake
    from serving.operations.grassroots.tip_page import create_tip_app

    engine = make_engine(_url(url))
    require_current(engine)
    app_ = Starlette(routes=[Mount("/tip", app=create_tip_app(TipIntake(engine, _grassroots_directory(data))))])
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


# -- push worker ---------------------------------------------------------------------------------
def _sqlite_single_worker_lock(engine):
    """SQLite has no row locks: allow one worker per database file (an flock next to the file)."""
    import fcntl

    path = Path(engine.url.database or "weimeng.db").resolve()
    fh = open(f"{path}.push-worker.lock", "w")  # noqa: SIM115  (held open for the worker's lifetime)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise Conflict(f"SQLite 库 {path} 已有推送进程在运行 / another push worker already runs on this SQLite file; "
                       f"SQLite supports one worker — use PostgreSQL for several.") from None
    return fh


def push_worker_command(
    url: str | None = URL_OPT,
    config: Path | None = typer.Option(None, "--config",
                                       help="推送配置 YAML / push config (channels, retry, wechat, webhook)"),
    channels: str | None = typer.Option(None, "--channels",
                                        help="覆盖渠道，逗号分隔 / override channels, e.g. inbox,wechat"),
    batch_size: int = typer.Option(20, "--batch-size", help="每轮认领条数 / rows claimed per round"),
    poll: float = typer.Option(1.0, "--poll", help="空闲轮询间隔秒 / idle poll interval (s)"),
    drain: bool = typer.Option(False, "--drain", help="队列清空即退出 / exit when nothing is pending"),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="最长运行秒数 / stop after this long"),
    worker_id: str | None = typer.Option(None, "--worker-id"),
    inbox_separate_commit: bool = typer.Option(
        False, "--inbox-separate-commit", hidden=True,
        help="write inbox items in their own transaction (tests the idempotency guard)"),
    pause_ms: float = typer.Option(0.0, "--pause-ms", help="每条之间暂停毫秒 / pause between deliveries (throttle)"),
    log_level: str = typer.Option("WARNING", "--log-level"),
    escalate_every: float = typer.Option(60.0, "--escalate-every",
                                         help="逐级督办检查间隔秒，0 关闭 / escalation check interval (s), 0 = off"),
    watch_digest_every: float = typer.Option(
        600.0, "--watch-digest-every",
        help="关注名单周报检查间隔秒（需在推送配置中开启）/ how often to check whether the weekly watch-list digest "
             "is due (s; only when watch_digest.enabled in the push config)"),
    data: Path | None = typer.Option(None, "--data", help="世界数据目录（关注名单周报分派用）/ the data directory "
                                                        "for the digest's routing (default: HOME/world)"),
) -> None:
    """推送进程：投递待发预警（重试、退避、死信），按期限逐级督办，开启后每周送达关注名单 / Deliver the outbox to the
    push channels, escalate what is overdue (docs/grassroots.md) and, when the push config turns it on, deliver
    the weekly watch-list digest (docs/alerts.md)."""
    from serving.operations.alerts.db import is_postgres, make_engine, require_current
    from serving.operations.push import PushConfig, PushWorker, build_adapters

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    cfg = PushConfig.from_file(config) if config else PushConfig()
    if channels:
        cfg = PushConfig(channels=tuple(c.strip() for c in channels.split(",") if c.strip()), retry=cfg.retry,
                         wechat=cfg.wechat, webhook=cfg.webhook, watch_digest=cfg.watch_digest)
    engine = make_engine(_url(url))
    require_current(engine)
    lock = None if is_postgres(engine) else _sqlite_single_worker_lock(engine)
    worker = PushWorker(engine, build_adapters(engine, cfg), retry=cfg.retry, batch_size=batch_size,
                        worker_id=worker_id, inbox_in_transaction=not inbox_separate_commit,
                        pause_seconds=pause_ms / 1000.0)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    escalation = None
    if escalate_every > 0:  # the escalator rides on the worker's schedule, in its own thread
        from serving.operations.grassroots.escalation import Escalator, run_periodically

        escalation = threading.Thread(target=run_periodically, args=(Escalator(engine), stop, escalate_every),
                                      name="weimeng-escalation", daemon=True)
        escalation.start()
    digest = None
    if cfg.watch_digest.enabled and watch_digest_every > 0:  # weekly, checked on the worker's schedule
        from serving.operations.push.digest import run_periodically as run_digest

        digest = threading.Thread(target=run_digest, args=(_watch_digest_job(engine, cfg, data), stop,
                                                           watch_digest_every),
                                  name="weimeng-watch-digest", daemon=True)
        digest.start()
    stats = worker.run(stop=stop, poll_seconds=poll, drain=drain, max_seconds=max_seconds)
    stop.set()
    for thread in (escalation, digest):
        if thread is not None:
            thread.join(timeout=30)
    typer.echo(f"推送进程结束 / worker stopped: delivered={stats.delivered} retried={stats.retried} dead={stats.dead} "
               f"unsubscribed={stats.unsubscribed} cancelled={stats.cancelled} rounds={stats.rounds}")
    if lock is not None:
        lock.close()


# -- stand-alone ---------------------------------------------------------------------------------
app = typer.Typer(cls=WeimengGroup, help="未萌 预警与推送 / alerts and push (stand-alone entry).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
app.add_typer(db_app, name="db")
app.add_typer(alerts_app, name="alerts")
app.command(name="push-worker")(push_worker_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
