"""Demo accounts and the labelled demo review; the `weimeng users` / `weimeng audit` commands; the
lazily built app for BentoML."""

from __future__ import annotations

from typer.testing import CliRunner

from serving.operations import audit
from serving.operations.alerts import AlertStore
from serving.operations.auth import UserStore
from serving.operations.console import DEMO_REVIEWER, demo_review, lazy_app, seed_demo_accounts


def test_demo_accounts_are_labelled_and_can_log_in(seeded, counties):
    engine, world, _ = seeded
    accounts = seed_demo_accounts(engine, world=world)
    users = UserStore(engine)
    names = {a.username for a in accounts}
    assert {DEMO_REVIEWER, "demo-county-reviewer", "demo-leader"} <= names
    for acct in accounts:
        u = users.authenticate(acct.username, acct.password)
        assert u.is_demo and u.display_name.startswith("演示") and acct.password in acct.line()
    county = next(a for a in accounts if a.username == "demo-county-reviewer").jurisdiction
    assert county in counties
    again = seed_demo_accounts(engine, world=world)  # re-seeding resets passwords, keeps the users
    assert users.authenticate(DEMO_REVIEWER, again[0].password).username == DEMO_REVIEWER


def test_demo_review_decides_as_the_demo_reviewer_and_is_audited(seeded):
    engine, world, alerts = seeded
    seed_demo_accounts(engine, world=world)
    done = demo_review(engine, world, approve=3, dismiss=2, echo=lambda *_: None)
    assert done["approved"] == 3 and done["dismissed"] == 2 and done["failed"] == 0
    store = AlertStore(engine)
    for alert_id in done["alert_ids"]:
        v = store.get(alert_id)
        assert v.state == "queued" and v.review_reason.startswith("演示审核：") and DEMO_REVIEWER in v.reviewed_by
    decided = audit.entries(engine, action="case.decide", limit=100)
    assert len(decided) == 5 and all(DEMO_REVIEWER in e.actor for e in decided)
    assert audit.entries(engine, action="demo.review_finished")[0].detail["approved"] == 3
    assert audit.verify(engine).ok


def test_cli_users_add_list_and_disable(engine):
    from weimeng.commands.console import app

    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "wh-reviewer", "--name", "武侯区审核员", "--role", "reviewer",
                            "--jurisdiction", "510107", "--password", "long-enough-pw", "--url", url])
    assert r.exit_code == 0 and "已创建" in r.output
    r = runner.invoke(app, ["users", "add", "bad", "--name", "x", "--role", "boss", "--jurisdiction", "510107",
                            "--password", "long-enough-pw", "--url", url])
    assert r.exit_code == 2 and "role 'boss' is not allowed" in r.output
    assert "wh-reviewer\t武侯区审核员\treviewer\t510107" in runner.invoke(app, ["users", "list", "--url", url]).output
    assert runner.invoke(app, ["users", "disable", "wh-reviewer", "--url", url]).exit_code == 0
    assert "已停用" in runner.invoke(app, ["users", "list", "--url", url]).output
    r = runner.invoke(app, ["audit", "show", "--url", url])
    assert "users.add" in r.output and "users.disable" in r.output


def test_cli_refuses_an_unmigrated_database(tmp_path):
    from weimeng.commands.console import app

    r = CliRunner().invoke(app, ["audit", "verify", "--url", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert r.exit_code == 2 and "weimeng db upgrade" in r.output


def test_lazy_app_builds_on_first_request(seeded):
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, create_app

    engine, world, _ = seeded
    built = []

    def factory():
        built.append(1)
        return create_app(ConsoleSettings(), engine=engine, world=world)

    app = lazy_app(factory)
    assert built == []
    with TestClient(app) as c:
        assert built == []                      # lifespan alone builds nothing
        assert c.get("/healthz").json() == {"ok": True}
        assert c.get("/login").status_code == 200
    assert built == [1]
