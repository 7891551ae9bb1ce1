"""One error root: every package error is a WeimengError of one kind; the kind alone decides the
HTTP status, the JSON body and the CLI exit code."""

from __future__ import annotations

import importlib

import pytest
import typer
from typer.testing import CliRunner

from common.errors import (
    EXIT_CODES,
    HTTP_STATUS,
    BadInput,
    ErrorKind,
    NotReady,
    WeimengError,
    error_body,
    error_response,
    kind_for_status,
)

K = ErrorKind

#: kind -> (HTTP status, CLI exit code), as documented in common/errors.py and docs/serving.md.
DOCUMENTED = {
    K.BAD_INPUT: (422, 2),
    K.NOT_FOUND: (404, 2),
    K.UNAUTHENTICATED: (401, 2),
    K.FORBIDDEN: (403, 2),
    K.CONFLICT: (409, 2),
    K.NOT_READY: (503, 1),
    K.CONFIGURATION: (500, 2),
    K.TOO_MANY_REQUESTS: (429, 1),
    K.INTERNAL: (500, 1),
}

#: Every exception class the packages export, with its kind. A new class must be added here.
EXPECTED: dict[str, dict[str, ErrorKind]] = {
    "features.errors": {
        "FeaturesError": K.INTERNAL, "ContractError": K.BAD_INPUT, "UnknownFeatureError": K.BAD_INPUT,
        "SimulationConfigError": K.BAD_INPUT, "EngineError": K.CONFIGURATION,
    },
    "rules.errors": {
        "RulesError": K.INTERNAL, "RuleFileError": K.BAD_INPUT, "RuleInputError": K.BAD_INPUT,
        "RuleEngineError": K.NOT_READY, "BacktestError": K.BAD_INPUT,
    },
    "rules.template": {"TemplateSyntaxError": K.BAD_INPUT},
    "rules.condition": {"ConditionSyntaxError": K.BAD_INPUT},
    "training.errors": {
        "TrainingError": K.INTERNAL, "TrainingConfigError": K.BAD_INPUT, "ProtectedFeatureError": K.BAD_INPUT,
        "TrainingDataError": K.BAD_INPUT, "RegistryError": K.NOT_FOUND, "IncompatibleModelError": K.CONFLICT,
        "PromotionRefused": K.CONFLICT,
    },
    "monitoring.errors": {
        "MonitoringError": K.INTERNAL, "MonitorConfigError": K.BAD_INPUT, "MonitorDataError": K.BAD_INPUT,
    },
    "serving.scoring.errors": {
        "ScoringError": K.INTERNAL, "ScoringInputError": K.BAD_INPUT, "AuthenticationError": K.UNAUTHENTICATED,
        "ScopeError": K.FORBIDDEN, "AdminRequiredError": K.FORBIDDEN, "UnknownPersonError": K.NOT_FOUND,
        "NotReadyError": K.NOT_READY, "ServingConfigError": K.CONFIGURATION, "ModelMismatchError": K.CONFLICT,
    },
    "serving.operations.alerts.errors": {
        "AlertsError": K.INTERNAL, "ConfigurationError": K.CONFIGURATION, "DatabaseNotMigrated": K.CONFIGURATION,
        "InvalidInput": K.BAD_INPUT, "ReasonRequired": K.BAD_INPUT, "NotFound": K.NOT_FOUND,
        "AlertNotFound": K.NOT_FOUND, "DeliveryNotFound": K.NOT_FOUND, "InboxItemNotFound": K.NOT_FOUND,
        "InvalidTransition": K.CONFLICT, "ItemClosed": K.CONFLICT, "RoutingError": K.BAD_INPUT,
        "AuthenticationError": K.UNAUTHENTICATED, "PayloadError": K.BAD_INPUT, "SignatureError": K.UNAUTHENTICATED,
    },
    "serving.operations.auth.errors": {
        "AuthError": K.INTERNAL, "InvalidAccount": K.BAD_INPUT, "DuplicateUser": K.CONFLICT,
        "UserNotFound": K.NOT_FOUND, "LoginFailed": K.UNAUTHENTICATED, "AccountLocked": K.TOO_MANY_REQUESTS,
        "SessionExpired": K.UNAUTHENTICATED, "CsrfFailed": K.FORBIDDEN, "Forbidden": K.FORBIDDEN,
        "OutOfScope": K.NOT_FOUND,
    },
    "serving.operations.audit.errors": {
        "AuditError": K.INTERNAL, "AuditWriteError": K.NOT_READY, "AuditTampered": K.INTERNAL,
    },
    "serving.operations.console.errors": {
        "ConsoleError": K.INTERNAL, "ConsoleConfigError": K.CONFIGURATION, "BadFilter": K.BAD_INPUT,
        "ReportNotFound": K.NOT_FOUND, "ModelVersionNotFound": K.NOT_FOUND,
    },
    "serving.operations.push.wechat.token": {"TokenError": K.NOT_READY},
    "common.settings": {"SettingsError": K.CONFIGURATION},
}

#: Builtin bases that callers catch (``except ValueError`` / ``KeyError`` ...): they must stay.
BUILTIN_BASES = {
    "features.errors.UnknownFeatureError": KeyError,
    "features.errors.SimulationConfigError": ValueError,
    "rules.errors.RuleFileError": ValueError,
    "rules.errors.RuleInputError": ValueError,
    "rules.errors.BacktestError": ValueError,
    "rules.template.TemplateSyntaxError": ValueError,
    "rules.condition.ConditionSyntaxError": ValueError,
    "training.errors.TrainingConfigError": ValueError,
    "monitoring.errors.MonitorConfigError": ValueError,
    "serving.scoring.errors.ScoringInputError": ValueError,
    "serving.scoring.errors.UnknownPersonError": LookupError,
    "serving.scoring.errors.ServingConfigError": ValueError,
    "serving.operations.alerts.errors.ConfigurationError": ValueError,
    "serving.operations.alerts.errors.InvalidInput": ValueError,
    "serving.operations.alerts.errors.NotFound": LookupError,
    "serving.operations.alerts.errors.PayloadError": ValueError,
    "serving.operations.auth.errors.InvalidAccount": ValueError,
    "serving.operations.auth.errors.UserNotFound": LookupError,
    "serving.operations.auth.errors.OutOfScope": LookupError,
    "serving.operations.console.errors.ConsoleConfigError": ValueError,
    "serving.operations.console.errors.BadFilter": ValueError,
    "serving.operations.console.errors.ReportNotFound": LookupError,
    "serving.operations.console.errors.ModelVersionNotFound": LookupError,
    "serving.operations.push.wechat.token.TokenError": RuntimeError,
}

CASES = [(mod, name, kind) for mod, names in EXPECTED.items() for name, kind in names.items()]


def _cls(mod: str, name: str) -> type:
    return getattr(importlib.import_module(mod), name)


def test_the_documented_kind_table():
    assert set(DOCUMENTED) == set(ErrorKind)
    assert {k: (HTTP_STATUS[k], EXIT_CODES[k]) for k in ErrorKind} == DOCUMENTED


@pytest.mark.parametrize("mod", sorted(EXPECTED))
def test_every_exported_exception_is_in_the_table(mod):
    m = importlib.import_module(mod)
    exported = {n for n in getattr(m, "__all__", vars(m)) if isinstance(getattr(m, n, None), type)
                and issubclass(getattr(m, n), BaseException)}
    missing = exported - set(EXPECTED[mod])
    assert not missing, f"{mod} exports exceptions missing from EXPECTED: {missing}"


@pytest.mark.parametrize("mod, name, kind", CASES, ids=[f"{m}.{n}" for m, n, _ in CASES])
def test_each_error_is_a_weimeng_error_whose_kind_sets_status_body_and_exit(mod, name, kind):
    cls = _cls(mod, name)
    assert issubclass(cls, WeimengError)
    assert cls.kind is kind
    err = cls.__new__(cls)  # no __init__: some take problem lists or reports; the kind is a class fact
    assert (err.http_status, err.exit_code) == DOCUMENTED[kind]
    assert "http_status" not in vars(cls), f"{name} keeps its own status table: status comes from the kind"


@pytest.mark.parametrize("path, base", sorted(BUILTIN_BASES.items()))
def test_builtin_bases_that_callers_catch_are_kept(path, base):
    mod, name = path.rsplit(".", 1)
    assert issubclass(_cls(mod, name), base)


def test_real_instances_answer_with_the_one_body():
    from rules.condition import ConditionSyntaxError
    from rules.errors import RuleFileError, RuleProblem
    from serving.operations.alerts.errors import InvalidTransition
    from serving.scoring.errors import ScopeError, ScoringInputError
    from training.errors import PromotionRefused

    err = ScoringInputError("不是有效日期 / not a date", field="as_of")
    assert error_response(err) == (422, {"error": {"kind": "bad_input", "message": "不是有效日期 / not a date",
                                                   "field": "as_of"}})
    assert str(err) == "as_of: 不是有效日期 / not a date" and err.reason == err.message and isinstance(err, BadInput)
    assert error_response(ScopeError("不在本密钥的管辖范围"))[0] == 403
    problem = RuleProblem("r.yaml", "R1", "condition", "bad")
    rf = RuleFileError(problem)
    assert rf.body()["error"]["field"] == "condition" and "r.yaml" in rf.body()["error"]["message"]
    assert ConditionSyntaxError("rules[0].when", "bad op").body()["error"]["field"] == "rules[0].when"
    assert PromotionRefused("门槛未通过", report={"a": 1}).http_status == 409
    assert InvalidTransition("不允许", current="new").body() == {"error": {"kind": "conflict", "message": "不允许"}}


def test_an_unexpected_exception_is_internal_and_names_only_its_type():
    status, body = error_response(KeyError("secret column"))
    assert status == 500 and body["error"]["kind"] == "internal"
    assert "KeyError" in body["error"]["message"] and "secret" not in body["error"]["message"]


@pytest.mark.parametrize("status, kind", [(404, K.NOT_FOUND), (405, K.BAD_INPUT), (401, K.UNAUTHENTICATED),
                                          (503, K.NOT_READY), (500, K.INTERNAL), (429, K.TOO_MANY_REQUESTS)])
def test_a_bare_status_has_a_kind(status, kind):
    assert kind_for_status(status) is kind


def test_error_body_leaves_out_an_absent_field_and_refuses_unknown_kinds():
    assert error_body("not_found", "没有") == {"error": {"kind": "not_found", "message": "没有"}}
    with pytest.raises(ValueError):
        error_body("teapot", "x")


# -- the CLI: one place turns any of them into one line and the kind's exit code -------------------------------
def _cli():
    from weimeng.errors import WeimengGroup

    app = typer.Typer(cls=WeimengGroup)
    sub = typer.Typer(cls=WeimengGroup)

    @app.command()
    def bad() -> None:
        raise BadInput("日期无效 / invalid date for --as-of: 'x'")

    @app.command()
    def later() -> None:
        raise NotReady("模型未就绪 / no model yet")

    @app.command()
    def boom() -> None:
        raise RuntimeError("a bug")

    @sub.command()
    def missing() -> None:
        from serving.operations.alerts.errors import AlertNotFound

        raise AlertNotFound("预警不存在 / alert 7 not found")

    @sub.command()
    def other() -> None:
        pass

    app.add_typer(sub, name="sub")
    return app


@pytest.mark.parametrize("args, code, text", [
    (["bad"], 2, "错误 / error: 日期无效 / invalid date for --as-of: 'x'"),
    (["later"], 1, "错误 / error: 模型未就绪 / no model yet"),
    (["sub", "missing"], 2, "错误 / error: 预警不存在 / alert 7 not found"),
])
def test_the_cli_prints_one_line_and_exits_with_the_kinds_code(args, code, text):
    r = CliRunner().invoke(_cli(), args)
    assert r.exit_code == code, r.exception
    assert text in r.output and "Traceback" not in r.output
    assert r.output.strip().count("\n") == 0


def test_the_cli_leaves_bugs_alone():
    r = CliRunner().invoke(_cli(), ["boom"])
    assert isinstance(r.exception, RuntimeError)


def test_no_cli_command_keeps_its_own_fail_or_scans_for_error_classes():
    import inspect

    from weimeng import cli
    from weimeng.commands import alerts, console, monitor, rules, train

    for mod in (cli, alerts, console, monitor, rules, train):
        src = inspect.getsource(mod)
        assert "def _fail" not in src and "_expected_errors" not in src and "vars(rerr)" not in src, mod.__name__


def test_the_mounted_command_reports_our_errors_the_same_way(tmp_path):
    from weimeng.cli import app

    r = CliRunner().invoke(app, ["rules", "backtest", "--data", str(tmp_path / "nowhere"), "--from", "2025-01-01",
                                 "--to", "2025-02-01"])
    assert r.exit_code == 2 and "错误 / error: 数据目录不存在" in r.output
