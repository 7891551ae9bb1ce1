"""`weimeng serve`, `weimeng score` and `weimeng keys ...`: thin wrappers over ``serving.scoring``.

Mount in ``weimeng/cli.py``::

    from weimeng.commands import serve as serve_cmd
    app.command(name="serve")(serve_cmd.serve_command)
    app.command(name="score")(serve_cmd.score_command)
    app.add_typer(serve_cmd.keys_app, name="keys")

Heavy libraries load inside the command bodies. Expected failures raise our own errors
(:mod:`common.errors`); ``weimeng.errors.cli_errors`` prints one Chinese-first message and exits with
the kind's code: 2 for a call or file to fix, 1 when a store or model is not ready.

``weimeng serve`` replaces its own process with the BentoML server (``os.execve``): the PID a
supervisor (systemd, supervisord, a container runtime) started is the server's, so SIGTERM and
SIGINT reach it directly and nothing is left running after it stops.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from common.errors import BadInput, ConfigurationError, NotReady, WeimengError
from weimeng.errors import WeimengGroup, cli_errors

__all__ = ["serve_command", "score_command", "keys_app"]

keys_app = typer.Typer(cls=WeimengGroup, help="服务账号密钥 / Service-account API keys: create, list, revoke.",
                       no_args_is_help=True, add_completion=False)


def _check_sink(s) -> None:
    """Warn (do not stop) when the configured alert sink cannot be opened: scoring still works, but
    flagged people, urgent ones included, are not filed until it can."""
    from serving.scoring.app import import_sink

    factory = import_sink(s.alert_sink)  # a bad name is a configuration error: stop here
    if factory is None:
        typer.secho("注意 / note: 未配置预警通道 alert_sink（null）：预警不会进入审核队列 / no alert sink is "
                    "configured: alerts will not reach the review queue.", fg=typer.colors.YELLOW, err=True)
        return
    try:
        sink = factory()
    except Exception as exc:
        typer.secho(f"警告 / warning: 预警通道暂不可用，紧急预警将无法入库，直至修复 / the alert sink cannot be "
                    f"opened, so alerts are not filed until it can: {getattr(exc, 'message', '') or exc}",
                    fg=typer.colors.YELLOW, err=True)
        return
    store = getattr(sink, "store", None)
    if store is not None:
        store.engine.dispose()


def _settings(config: Path | None, **overrides):
    from serving.scoring.settings import ServingSettings

    return ServingSettings.load(config, {k: (str(v) if isinstance(v, Path) else v) for k, v in overrides.items()
                                         if v is not None})


def serve_command(
    port: int = typer.Option(3000, "--port", "-p", help="端口 / port"),
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / bind address"),
    config: Path | None = typer.Option(None, "--config", help="服务配置 YAML / serving settings (serving.yaml)"),
    data: Path | None = typer.Option(None, "--data", help="数据目录 / data dir (default <home>/world)"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
    workers: int = typer.Option(1, "--workers", min=1, max=16, help="工作进程数 / worker processes"),
    no_auth: bool = typer.Option(False, "--no-auth", help="仅限本机试验：不校验密钥 / no API keys (local only)"),
) -> None:
    """启动评分服务 / Start the scoring service (BentoML) on embedded defaults."""
    with cli_errors():
        s = _settings(config, data_dir=data, tracking_uri=tracking_uri,
                      auth_required=False if no_auth else None).resolve()  # fail here, not in the worker
        if no_auth and host not in ("127.0.0.1", "localhost", "::1"):
            raise BadInput("--no-auth 只能在本机使用 / --no-auth is allowed only with --host 127.0.0.1.",
                           field="--no-auth")
        cmd = [sys.executable, "-m", "bentoml", "serve", "serving.scoring.service:WeimengScoring", "-p", str(port),
               "--host", host]
        if config is not None:
            cmd += ["--arg", f"config={config.resolve()}"]
        for key in ("home", "data_dir", "tracking_uri", "auth_required"):
            cmd += ["--arg", f"{key}={getattr(s, key)}"]
        _check_sink(s)
        env = dict(os.environ)
        env["BENTOML_CONFIG_OPTIONS"] = (env.get("BENTOML_CONFIG_OPTIONS", "") +
                                         f" services.weimeng_scoring.workers={workers}").strip()
        typer.echo(f"未萌评分服务 / Weimeng scoring on http://{host}:{port}  "
                   f"(data {s.data_dir}, MLflow {s.tracking_uri})")
        sys.stdout.flush()
        sys.stderr.flush()
        # Become the server (same PID): signals from whoever started us reach it, and no orphan is left.
        try:
            os.execve(sys.executable, cmd, env)
        except OSError as exc:
            raise WeimengError(f"无法启动 BentoML / cannot start BentoML ({exc}).") from exc


def score_command(
    data: Path = typer.Option(..., "--data", help="数据目录 / data dir (a world)"),
    as_of: str = typer.Option(..., "--as-of", help="时点 / as-of date YYYY-MM-DD"),
    out: Path = typer.Option(..., "--out", help="输出 Parquet / output .parquet"),
    jsonl: Path | None = typer.Option(None, "--jsonl", help="另存完整记录 JSONL / also write full records"),
    config: Path | None = typer.Option(None, "--config", help="服务配置 YAML / serving settings"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
    explain: str = typer.Option("flagged", "--explain", help="flagged | all | none"),
    send_alerts: bool = typer.Option(False, "--send-alerts",
                                     help="预警送入审核队列 / file flagged people in the review queue (alert_sink)"),
    previous: Path | None = typer.Option(None, "--previous",
                                         help="上一期评分 Parquet / the previous run's output: alerts of people on "
                                              "its watch list carry the reason 风险上升"),
) -> None:
    """批量评分 / Score everyone with recent records as of a date; write levels, categories, explanations."""
    with cli_errors():
        if explain not in ("flagged", "all", "none"):
            raise BadInput(f"--explain {explain!r}; allowed: flagged, all, none.", field="--explain")
        if not data.is_dir():
            raise BadInput(f"数据目录不存在 / data dir {str(data)!r} not found.", field="--data")
        from serving.scoring.app import ScoringApp
        from serving.scoring.batch import score_population, write_outputs
        from serving.scoring.datasource import normalise_as_of

        normalise_as_of(as_of, "--as-of")
        if previous is not None and not previous.is_file():
            raise BadInput(f"上一期评分文件不存在 / --previous {str(previous)!r} not found.", field="--previous")
        s = _settings(config, data_dir=data.resolve(), tracking_uri=tracking_uri, auth_required=False,
                      default_as_of=as_of)
        app = ScoringApp.start(s, watch=False)
        if send_alerts:  # before the long part: a store that cannot take alerts fails the run now
            if not app.sink_configured:
                raise ConfigurationError("未配置预警通道 / --send-alerts needs an alert_sink in the settings "
                                         "(it is null).", field="alert_sink")
            app.open_sink(raise_errors=True)
        table, scored = score_population(app, as_of, explain=explain, previous=previous)
        write_outputs(table, scored, out, jsonl)
        report = app.send_alerts(scored) if send_alerts else None
        levels = table["level"].value_counts().to_dict() if len(table) else {}
        b = app.scorer.bundle
        typer.echo(f"已评分 / scored {len(table):,} 人 as of {as_of} → {out}"
                   + (f" (+ {jsonl})" if jsonl else ""))
        typer.echo("  等级 levels: " + ", ".join(f"{k} {levels.get(k, 0):,}"
                                               for k in ("red", "orange", "yellow", "none")))
        shown = {k: round(v, 5) for k, v in b.thresholds.as_dict().items() if k in ("red", "orange", "yellow")}
        typer.echo(f"  模型 model {b.model_version} · 规则集 rules {b.ruleset_version} · 阈值 thresholds "
                   f"{shown}")
        if report is not None:
            typer.echo(_report_text(report))
            if report.failed:
                raise NotReady(f"{report.failed:,} 条预警未能入库，详见日志；重跑不会重复入库 / "
                               f"{report.failed:,} alerts were not filed (see the log); "
                               "a rerun does not file duplicates.")


def _report_text(report) -> str:
    """The sink's report for a person: what reached the review queue."""
    return (f"  预警入库 / alerts: 新增或更新 {report.filed:,} 条（进入审核队列），"
            f"未变 {report.unchanged:,} 条（冷却期内已有同因预警），失败 {report.failed:,} 条")


def _keystore(keys_file: Path | None, config: Path | None):
    from serving.scoring.auth import KeyStore

    s = _settings(config, keys_file=keys_file).resolve()
    return KeyStore(s.keys_file)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name", help="使用方 / who uses the key, e.g. 省基层治理平台"),
    scope: list[str] = typer.Option(..., "--scope", help="管辖区划代码，可多次 / jurisdiction code (repeatable)"),
    admin: bool = typer.Option(False, "--admin", help="可调用 /v1/reload / may reload models"),
    keys_file: Path | None = typer.Option(None, "--keys-file"),
    config: Path | None = typer.Option(None, "--config"),
) -> None:
    """新建密钥（只显示一次）/ Create a key; it is shown once and stored only as a salted scrypt hash."""
    with cli_errors():
        ks = _keystore(keys_file, config)
        key = ks.create(name, scope, admin=admin)
    _audit_key_created(key.split("_")[1], name, scope, admin)
    typer.echo(key)
    typer.echo(f"已保存哈希 / stored hashed in {ks.path}; 请妥善保管 / keep the key safe.", err=True)


def _audit_key_created(key_id: str, name: str, scope: list[str], admin: bool) -> None:
    """Audit ``keys create`` in the operational store (a warning when that store is not set up)."""
    try:
        from common.settings import Settings
        from serving.operations import audit
        from serving.operations.alerts.db import make_engine

        audit.record(make_engine(Settings.from_env().resolved_database_url), "cli:keys create", "apikey.create",
                     f"apikey:{key_id}", {"name": name, "scopes": list(scope), "admin": bool(admin)})
    except Exception as exc:  # the key exists already: say that it was not audited, do not hide the key
        typer.echo(f"警告：未能记入审计日志 / warning: not audited ({type(exc).__name__}).", err=True)


@keys_app.command("list")
def keys_list(keys_file: Path | None = typer.Option(None, "--keys-file"),
              config: Path | None = typer.Option(None, "--config")) -> None:
    """列出密钥 / List keys (ids, names, scopes; never secrets)."""
    with cli_errors():
        for e in _keystore(keys_file, config).list():
            state = "已吊销 revoked" if e.get("revoked") else "有效 active"
            typer.echo(f"{e['key_id']}  {e['name']}  scopes={','.join(e['scopes'])}  admin={e['admin']}  {state}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="密钥编号 / key id"),
                keys_file: Path | None = typer.Option(None, "--keys-file"),
                config: Path | None = typer.Option(None, "--config")) -> None:
    """吊销密钥 / Revoke a key (takes effect at the service's next key check)."""
    with cli_errors():
        _keystore(keys_file, config).revoke(key_id)
    typer.echo(f"已吊销 / revoked {key_id}")
