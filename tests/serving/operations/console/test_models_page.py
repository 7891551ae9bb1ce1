"""The console's model page (/models): registered versions and one version's facts, read from the registry.

One registry per module, trained by the real pipeline (``modelkit``): a BYOD model, left a challenger, for the
default run; the slow tests add a model trained on the session's small world and promoted. Nothing retrains
per test."""

from __future__ import annotations

import html as htmlmod
import re

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from serving.operations.audit.models import audit_log
from serving.operations.console.modelinfo import (
    NOT_CONFIGURED,
    NOT_FOUND,
    UNREACHABLE,
    card_rows,
    flag_text,
    gate_reason_text,
    period_rows,
    registry_problem,
)

from .kit import login
from .modelkit import BYOD_FEATURES, BYOD_NAME, BYOD_SPEC, add_byod_model, add_world_model


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry holding the BYOD model (trained once for the module; seconds)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('models_page') / 'mlflow.db'}"
    return {"uri": uri, "byod": add_byod_model(uri)}


@pytest.fixture(scope="module")
def full_registry(registry, small_world):
    """The same registry with a model trained on the session's small world and promoted (the slow tests)."""
    w = add_world_model(small_world, registry["uri"])
    registry.update(world=w["version"], forced=w["forced"], world_result=w["result"])
    return registry


def _client(engine, world, uri):
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, create_app

    return TestClient(create_app(ConsoleSettings(tracking_uri=uri), engine=engine, world=world))


@pytest.fixture
def page(seeded, registry):
    engine, world, _ = seeded
    with _client(engine, world, registry["uri"]) as c:
        login(c, "reviewer-a")
        yield c


def visible_text(page_html: str) -> str:
    body = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", page_html)
    return htmlmod.unescape(re.sub(r"<[^>]+>", " ", body))


#: What a person must never read: Python values and code identifiers (snake_case, dotted names, dict/list syntax).
RAW = re.compile(r"\b(None|True|False|nan|NaN|inf|null)\b|[{}\[\]]|\b[a-z]+_[a-z0-9_]+\b|\b[a-z]+\.[a-z_]+\(|__")


def assert_no_raw_values(page_html: str, allowed: tuple[str, ...] = ()) -> None:
    text = visible_text(page_html)
    for name in allowed:                          # the user's own column names, shown as the spec gives them
        text = text.replace(name, " ")
    hits = sorted({m.group(0) for m in RAW.finditer(text)})
    assert not hits, hits


def test_scan_catches_raw_values():
    for bad in ("<p>None</p>", "<td>{'a': 1}</td>", "<td>auc_ratio_to_records_oracle</td>", "<p>nan</p>"):
        with pytest.raises(AssertionError):
            assert_no_raw_values(bad)
    assert_no_raw_values("<p>ROC-AUC 0.812，第 1 版，2026-12-02 14:05</p>")


def test_list_shows_the_byod_model_as_a_challenger(page, registry):
    r = page.get("/models")
    assert r.status_code == 200
    t = visible_text(r.text)
    row = visible_text(next(tr for tr in r.text.split("<tr") if f"第 {registry['byod']} 版" in tr and BYOD_NAME in tr))
    assert "候选模型" in row and "未申请晋升" in row and "用户自带数据表" in row and "现任模型" not in row
    assert f"/models/{BYOD_NAME}/{registry['byod']}" in r.text
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d", t)
    assert_no_raw_values(r.text)


@pytest.mark.slow
def test_list_shows_both_models_with_roles_and_beijing_time(page, full_registry):
    registry = full_registry
    r = page.get("/models")
    assert r.status_code == 200
    t = visible_text(r.text)
    assert "weimeng-escalation" in t and BYOD_NAME in t
    assert "现任模型" in t and "候选模型" in t
    assert ("强制晋升" if registry["forced"] else "通过门槛晋升") in t and "未申请晋升" in t
    assert "用户自带数据表" in t
    assert f'/models/weimeng-escalation/{registry["world"]}' in r.text
    assert f"/models/{BYOD_NAME}/{registry['byod']}" in r.text
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d", t)
    assert_no_raw_values(r.text)


@pytest.mark.slow
def test_world_version_page_reads_what_the_registry_stores(page, full_registry):
    from training.registry import stored_version

    registry = full_registry
    r = page.get(f"/models/weimeng-escalation/{registry['world']}")
    assert r.status_code == 200, r.text
    t = visible_text(r.text)
    stored = stored_version(registry["world"], tracking_uri=registry["uri"])
    m, meta = stored["metrics"], stored["metadata"]
    for words in ("现任模型", "内置模拟世界", "民转刑", "快照前 365 天", "90 天", "训练期", "验证期", "测试期",
                  "性别、年龄段、市州、城乡", "仅用于公平性审计，从不作为特征", "阈值版本", "每次评分的预警预算",
                  "相对参照组的标记", "其中与记录可达上限相同的标记"):
        assert words in t, words
    assert f"{m['roc_auc']:.3f}" in t and f"{m['precision_at_capacity']:.1%}" in t
    assert f"{m['auc_ratio_to_records_oracle']:.3f}" in t                 # the ratio to the records oracle
    assert f"每期前 {meta['alerts_per_snapshot']} 人" in t
    assert f"{int(m['reference_fairness_flags'])} 项" in t
    th = stored["thresholds"]
    assert th is not None and th["detail"]["thresholds_version"] in t
    assert f"{sum(th['budgets'].values()):,} 条" in t
    # the base rate of each period comes from the card's row counts, and matches the training frames
    res = registry["world_result"]
    test_rate = res.sizes["test"]["positives"] / res.sizes["test"]["rows"]
    assert f"{test_rate:.2%}" in t
    # features by their Chinese catalog labels, never their names
    from features.catalog import CATALOG

    assert CATALOG["calls_30d"].label in t and "calls_30d" not in t
    if registry["forced"]:
        assert "晋升门槛未通过" in t and "强制晋升为现任模型（操作人 分析员甲）" in t and "试运行需要一个现任模型" in t
    assert_no_raw_values(r.text)


def test_byod_version_page_is_written_from_the_spec_only(page, registry):
    r = page.get(f"/models/{BYOD_NAME}/{registry['byod']}")
    assert r.status_code == 200, r.text
    t = visible_text(r.text)
    for words in (BYOD_SPEC["description"], BYOD_SPEC["population"], BYOD_SPEC["label_definition"],
                  "用户自带数据表", "候选模型", "每行时间之后 90 天", "sex、age_band", "仅用于公平性审计，从不作为特征",
                  "训练期", "测试期", "该版本没有登记预警阈值与预算", "该版本尚未申请晋升", *BYOD_FEATURES):
        assert words in t, words
    # nothing about the synthetic world (the card test's list, in the page's language) ...
    for synthetic in ("民转刑", "模拟", "网格", "365 天", "居住", "特征目录", "记录可达上限", "规则基线", "极端事件",
                      "警情", "市州"):
        assert synthetic not in t, synthetic
    # ... and the user's columns are not given the catalog's meaning of the same names
    from features.catalog import CATALOG

    assert CATALOG["calls_30d"].label not in t
    assert_no_raw_values(r.text, allowed=(*BYOD_FEATURES, "age_band"))


def test_every_view_is_audited(page, seeded, registry):
    engine, _, _ = seeded
    page.get("/models")
    page.get(f"/models/{BYOD_NAME}/{registry['byod']}")
    page.get(f"/models/{BYOD_NAME}/999")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.action, audit_log.c.subject, audit_log.c.actor)
                            .where(audit_log.c.action.in_(["model.list", "model.view"]))
                            .order_by(audit_log.c.seq)).all()
    assert [(a, s) for a, s, _ in rows] == [("model.list", "models:registry"),
                                            ("model.view", f"model:{BYOD_NAME}/{registry['byod']}"),
                                            ("model.view", f"model:{BYOD_NAME}/999")]
    assert {actor for *_, actor in rows} == {"reviewer-a（甲县审核民警）"}


def test_unknown_version_is_a_chinese_404(page, registry):
    for path in (f"/models/{BYOD_NAME}/999", "/models/no-such-model/1", f"/models/{BYOD_NAME}/abc"):
        r = page.get(path)
        assert r.status_code == 404, path
        t = visible_text(r.text)
        assert "未找到该模型版本" in t and "Traceback" not in t
        assert_no_raw_values(r.text)


@pytest.mark.parametrize("username", ["reviewer-b", "analyst", "leader", "admin"])
def test_every_role_may_read_it_and_the_nav_links_it(seeded, registry, username):
    engine, world, _ = seeded
    with _client(engine, world, registry["uri"]) as c:
        login(c, username)
        r = c.get("/models")
        assert r.status_code == 200 and 'href="/models"' in r.text and "模型信息" in r.text


def test_unauthenticated_users_are_refused(seeded, registry):
    engine, world, _ = seeded
    with _client(engine, world, registry["uri"]) as c:
        for path in ("/models", f"/models/{BYOD_NAME}/{registry['byod']}"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
            assert BYOD_SPEC["description"] not in r.text


@pytest.mark.parametrize("kind", ["none", "missing sqlite file", "database refusing connections"])
def test_no_registry_is_said_in_chinese_and_the_console_keeps_working(seeded, kind, tmp_path):
    engine, world, _ = seeded
    missing = tmp_path / "nowhere" / "mlflow.db"
    uri, message = {"none": (None, NOT_CONFIGURED), "missing sqlite file": (f"sqlite:///{missing}", NOT_FOUND),
                    "database refusing connections": ("postgresql+psycopg://u@127.0.0.1:1/mlflow", UNREACHABLE)}[kind]
    with _client(engine, world, uri) as c:
        login(c, "reviewer-a")
        for path in ("/models", "/models/weimeng-escalation/1"):
            r = c.get(path)
            assert r.status_code == 200 and message in visible_text(r.text), path
            assert_no_raw_values(r.text)
        assert c.get("/queue").status_code == 200 and c.get("/watch").status_code == 200
    assert not missing.parent.exists()              # the page never creates a registry


def test_registry_problem_never_creates_a_sqlite_registry(tmp_path):
    path = tmp_path / "none" / "mlflow.db"
    assert registry_problem(f"sqlite:///{path}") == NOT_FOUND and not path.parent.exists()
    path.parent.mkdir()
    path.write_bytes(b"")
    assert registry_problem(f"sqlite:///{path}") is None
    assert registry_problem("") == NOT_CONFIGURED


def test_card_rows_and_periods_follow_the_card_line():
    card = "- 行数 Rows: train 806 (3 positive), early_stopping 476 (2 positive), calibration 477 (2 positive), " \
           "test 1067 (5 positive)"
    rows = card_rows(card)
    assert rows == {"train": (806, 3), "validation": (953, 4), "test": (1067, 5)}
    out = period_rows({"train": "2024-01-06..2024-02-05 (2)", "validation": "2024-05-05..2024-06-04 (2)",
                       "test": "2024-09-02..2024-10-02 (2)", "gap_days": 90}, rows)
    assert [p["base_rate"] for p in out] == ["0.37%", "0.42%", "0.47%"]
    assert period_rows({"train": "-"}, {}) == []
    assert [p["rows"] for p in period_rows({"test": "2024-09-02..2024-10-02 (2)"}, {})] == ["—"]


@given(st.integers(min_value=1, max_value=10**6), st.data())
def test_base_rate_is_positives_over_rows(n, data):
    pos = data.draw(st.integers(min_value=0, max_value=n))
    card = f"- 行数 Rows: train {n} ({pos} positive), test {n} ({pos} positive)"
    out = period_rows({"train": "2024-01-01..2024-02-01 (2)", "test": "2024-05-01..2024-06-01 (2)"}, card_rows(card))
    assert [p["base_rate"] for p in out] == [f"{pos / n:.2%}"] * 2
    assert out[0]["rows"] == f"{n:,}" and out[0]["positives"] == f"{pos:,}"


def test_gate_reasons_and_flags_in_chinese():
    assert gate_reason_text("precision@capacity 0.0121 < rules-only baseline 0.0128") == \
        "按处置能力的精确率 0.0121 低于规则基线的 0.0128"
    assert gate_reason_text("ROC-AUC 0.7000 < champion 0.7200 - 0.005") == \
        "ROC-AUC 0.7000 低于现任模型的 0.7200（允许差 0.005）"
    assert "召回率 0.1000 低于现任模型的 0.2000" in gate_reason_text(
        "recall at the budget (120 alerts per run) 0.1000 < champion 0.2000")
    assert gate_reason_text("something new") == "另有一条门槛理由（原文见模型卡与注册表）"
    assert flag_text("high_risk_share:sex=女 F:fnr", 0.1) == "按高风险比例（风险最高的 10%）：性别为女的群体，漏报率"
    assert flag_text("prefecture=阿坝藏族羌族自治州 (自治州 autonomous):precision") == \
        "市州为阿坝藏族羌族自治州（自治州）的群体，精确率"
    for text in (gate_reason_text("x"), flag_text("garbage")):
        assert_no_raw_values(f"<p>{text}</p>")


def test_the_case_page_links_the_alerts_model_version_to_its_page(page, seeded, counties):
    _, _, alerts = seeded
    a, _ = counties
    r = page.get(f"/cases/{alerts[a][0]}")
    assert r.status_code == 200
    assert 'id="model-link" href="/models/weimeng-escalation/7"' in r.text and "第 7 版" in visible_text(r.text)
    r = page.get("/models/weimeng-escalation/7")            # a version this registry does not hold
    assert r.status_code == 404 and "未找到该模型版本" in visible_text(r.text)
