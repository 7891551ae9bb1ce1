"""`weimeng console`, `weimeng users ...` and `weimeng audit ...`: thin wrappers over serving.operations.console,
serving.operations.auth and serving.operations.audit.

Mount in ``weimeng/cli.py``::

    from weimeng.commands import console as console_cmd
    app.command(name="console")(console_cmd.console_command)
    app.add_typer(console_cmd.users_app, name="users")
    app.add_typer(console_cmd.audit_app, name="audit")

``python -m weimeng.commands.console ...`` runs the same commands stand-alone (tests use it).
The database URL comes from ``--url``, else ``Settings`` (``WEIMENG_DATABASE_URL``, default SQLite
under the data home). Bad input prints one message (Chinese first) and exits with code 2 (``weimeng.errors``);
``weimeng audit verify`` exits with code 1 when the log was tampered with.
"""

from __future__ import annotations

from pathlib import Path

import typer

from weimeng.errors import WeimengGroup

__all__ = ["console_command", "users_app", "audit_app", "app", "main"]

EXIT_TAMPERED = 1

users_app = typer.Typer(cls=WeimengGroup, help="审核台账号 / console accounts: add, list, passwd, disable, seed-demo.",
                        no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(cls=WeimengGroup, help="审计日志 / the hash-chained audit log: verify, head, show.",
                        no_args_is_help=True, add_completion=False)

URL_OPT = typer.Option(None, "--url", help="数据库 URL / database URL (default: WEIMENG_DATABASE_URL or SQLite)")


def _settings():
    from common.settings import Settings

    return Settings.from_env()


def _engine(url: str | None, *, check: bool = True):
    from serving.operations.alerts.db import make_engine, require_current

    engine = make_engine(url or _settings().resolved_database_url)
    if check:
        require_current(engine)
    return engine


# -- console ---------------------------------------------------------------------------------------
def console_command(
    port: int = typer.Option(8600, "--port", help="端口 / port"),
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / bind address"),
    url: str | None = URL_OPT,
    data: Path | None = typer.Option(None, "--data", help="数据目录（世界）/ world folder (default: HOME/world)"),
    reports: Path | None = typer.Option(None, "--reports", help="报告目录 / reports folder (default: HOME/reports)"),
    seed_demo: bool = typer.Option(False, "--seed-demo", help="创建演示账号并打印密码 / create the demo accounts"),
    secure_cookie: bool = typer.Option(False, "--secure-cookie", help="仅 HTTPS 发送会话 Cookie / Secure cookie"),
) -> None:
    """启动审核台 / Run the review console (FastAPI + uvicorn)."""
    import uvicorn

    from serving.operations.console import ConsoleSettings, create_app, seed_demo_accounts

    s = _settings()
    engine = _engine(url)
    settings = ConsoleSettings.from_mapping({
        "database_url": url or s.resolved_database_url, "data_dir": data or s.world_dir,
        "reports_dir": reports or s.reports_dir, "cookie_secure": secure_cookie, "tracking_uri": s.resolved_mlflow_uri})
    app = create_app(settings, engine=engine)
    if seed_demo:
        for acct in seed_demo_accounts(engine, world=app.state.world):
            typer.echo("  " + acct.line())
    typer.echo(f"审核台 / console: http://{host}:{port}/login")
    uvicorn.run(app, host=host, port=port, log_level="warning")


# -- users -----------------------------------------------------------------------------------------
@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="用户名 / username"),
    display_name: str = typer.Option(..., "--name", help="姓名与单位 / display name"),
    role: str = typer.Option(..., "--role", help="reviewer | analyst | leadership | admin"),
    jurisdiction: str = typer.Option(..., "--jurisdiction", help="510000 | 510100 | 510107 | S510107001"),
    password: str | None = typer.Option(None, "--password",
                                        help="密码（不给则交互输入）/ password (prompted if omitted)"),
    url: str | None = URL_OPT,
) -> None:
    """新增账号 / Add a console user (password hashed with argon2id)."""
    from serving.operations import audit
    from serving.operations.auth import UserStore

    engine = _engine(url)
    pw = password or typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    user = UserStore(engine).add(username, display_name, role=role, jurisdiction=jurisdiction, password=pw)
    audit.record(engine, "cli:users", "users.add", f"user:{user.username}",
                 {"role": user.role, "jurisdiction": user.jurisdiction.code})
    typer.echo(f"已创建 / created {user.username}（{user.display_name}，{user.role_label}，"
               f"辖区 {user.jurisdiction.code}）")


@users_app.command("list")
def users_list(url: str | None = URL_OPT) -> None:
    """账号列表 / List console users."""
    from serving.operations.auth import UserStore

    for u in UserStore(_engine(url)).list():
        flags = ("" if u.active else " 已停用") + (" 演示" if u.is_demo else "")
        typer.echo(f"{u.username}\t{u.display_name}\t{u.role}\t{u.jurisdiction.code}{flags}")


@users_app.command("passwd")
def users_passwd(username: str = typer.Argument(...),
                 password: str | None = typer.Option(None, "--password", help="新密码 / new password"),
                 url: str | None = URL_OPT) -> None:
    """重置密码 / Set a user's password (ends a lock-out and every session of the user)."""
    from serving.operations import audit
    from serving.operations.auth import UserStore

    engine = _engine(url)
    pw = password or typer.prompt("新密码 / new password", hide_input=True, confirmation_prompt=True)
    ended = UserStore(engine).set_password(username, pw)
    audit.record(engine, "cli:users", "users.passwd", f"user:{username}", {"sessions_ended": ended})
    typer.echo(f"已重置密码，并结束其 {ended} 个会话 / password set for {username}; {ended} session(s) ended")


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...), url: str | None = URL_OPT) -> None:
    """停用账号并结束其会话 / Disable a user and end their sessions."""
    from serving.operations import audit
    from serving.operations.auth import SessionStore, UserStore

    engine = _engine(url)
    users = UserStore(engine)
    users.set_active(username, False)
    n = SessionStore(engine).revoke_user(users.by_username(username).id)
    audit.record(engine, "cli:users", "users.disable", f"user:{username}", {"sessions_ended": n})
    typer.echo(f"已停用 / disabled {username}; ended {n} session(s)")


@users_app.command("seed-demo")
def users_seed_demo(url: str | None = URL_OPT,
                    county: str | None = typer.Option(None, "--county",
                                                      help="区县演示账号的辖区 / county code")) -> None:
    """创建演示账号并打印密码 / Create (or reset) the clearly labelled demo accounts."""
    from serving.operations.console import seed_demo_accounts

    for acct in seed_demo_accounts(_engine(url), county=county):
        typer.echo(acct.line())


# -- audit -----------------------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify(url: str | None = URL_OPT,
                 expected_head: str | None = typer.Option(
                     None, "--expected-head", help="外部留存的头哈希 / a head hash published earlier")) -> None:
    """校验审计日志哈希链 / Verify the audit chain against the newest signed checkpoint (kept outside the
    database); exit 1 if any entry was edited, deleted, cut from the end or wiped. An intact chain gets a
    new checkpoint."""
    from serving.operations.audit.anchor import CheckpointStore, verify_against

    store = CheckpointStore.from_settings()
    result, anchor = verify_against(_engine(url), store, expected_head=expected_head)
    if result.ok:
        typer.secho(result.summary(), fg=typer.colors.GREEN)
        typer.echo(f"检查点 / checkpoint: {'已比对 ' + anchor.line() if anchor else '首次校验，尚无检查点'}；"
                   f"新检查点已写入 {store.path}")
        return
    typer.secho(result.summary(), fg=typer.colors.RED, err=True)
    for p in result.problems:
        typer.echo(f"  - {p}", err=True)
    raise typer.Exit(EXIT_TAMPERED)


@audit_app.command("checkpoint")
def audit_checkpoint(url: str | None = URL_OPT) -> None:
    """记录审计日志检查点 / Append a signed checkpoint of the audit head outside the database (schedule it)."""
    from serving.operations.audit.anchor import CheckpointStore

    store = CheckpointStore.from_settings()
    cp = store.append(_engine(url))
    typer.echo(f"检查点已记录 / checkpoint recorded: {cp.line()} → {store.path}" if cp
               else "审计日志为空，无需检查点 / the audit log is empty: nothing to checkpoint")


@audit_app.command("head")
def audit_head(url: str | None = URL_OPT) -> None:
    """打印最新条目的哈希，供外部留存 / Print the newest entry's seq and hash (publish it to anchor the chain)."""
    from serving.operations import audit

    h = audit.head(_engine(url))
    typer.echo(f"{h[0]}\t{h[1]}" if h else "0\t(empty)")


@audit_app.command("show")
def audit_show(url: str | None = URL_OPT, action: str | None = typer.Option(None, "--action"),
               subject: str | None = typer.Option(None, "--subject"),
               limit: int = typer.Option(50, "--limit")) -> None:
    """最近的审计条目 / Show recent audit entries (newest first)."""
    from serving.operations import audit

    for e in audit.entries(_engine(url), action=action, subject=subject, limit=limit):
        typer.echo(f"{e.seq}\t{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor}\t{e.action}\t{e.subject}\t{e.hash[:12]}")


app = typer.Typer(cls=WeimengGroup, add_completion=False, no_args_is_help=True)
app.command(name="console")(console_command)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
