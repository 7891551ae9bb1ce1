"""The README's first command: the whole demo on a small world, ending with the console serving its alerts."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests._shared import free_port


@pytest.mark.slow
@pytest.mark.service
def test_demo_runs_end_to_end_and_the_console_shows_its_alerts(tmp_path):
    from weimeng.demo import DemoConfig, run_demo

    cfg = DemoConfig(home=tmp_path / "home", people=40_000, port=free_port(), approve=5, dismiss=1)
    res = run_demo(cfg, echo=lambda *_: None)
    try:
        steps = [s for s, _, _ in res.steps]
        assert len(steps) == 12 and steps[-1].startswith("11.")
        meta = json.loads((cfg.home / "demo.json").read_text(encoding="utf-8"))
        assert "领导报告 leadership report" in meta["artefacts"]
        outcomes = dict((s, o) for s, o, _ in res.steps)
        assert "已写入审计日志" in outcomes["7. 预警入库 alerts"]  # the promotion reached the audit log
        volume = re.search(r"本次预警 (\d+) 条 / 预算 (\d+) 条", outcomes["6. 批量评分与解释 score"])
        assert volume and 0 < int(volume.group(1)) <= int(volume.group(2))  # non-urgent alerts within the budget
        review = outcomes["8. 人工审核（演示审核员）review"]
        assert "通过 5 条" in review and "demo-reviewer" in review
        assert all("{'" not in o and "['" not in o for _, o, _ in res.steps)  # no raw Python values
        # the report is about the data's last month, so it holds the demo's alerts and the station scorecard
        page = next((cfg.home / "reports").glob("leadership_monthly_*.html")).read_text(encoding="utf-8")
        assert "没有生成预警" not in page and "派出所一网考" in page and "县内排名" in page
        assert (cfg.home / "evidently").is_dir()                              # the monitor's history
        grassroots = outcomes["10b. 排查上报、匿名线索与逐级督办 grassroots"]
        assert "上报排查 3 条" in grassroots and "匿名反映 3 条" in grassroots
        assert "升至乡镇（街道）督办 1 次" in grassroots
        password = re.search(r"demo-reviewer\s+密码 (\S+)", " ".join(res.logins)).group(1)
        with httpx.Client(base_url=res.console.url.rsplit("/console", 1)[0], follow_redirects=True, timeout=30) as c:
            login = c.get("/console/login")
            assert login.status_code == 200
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
            queue = c.post("/console/login", data={"username": "demo-reviewer", "password": password,
                                                   "csrf_token": token})
            assert queue.status_code == 200 and "演示" in queue.text
            assert re.search(r"/console/cases/\d+", queue.text), "the queue lists the demo's alerts"
            assert "平均的 " in queue.text and "县内前 " in queue.text     # risk in the reviewer's terms
            import pandas as pd

            code = pd.read_parquet(cfg.world / "addresses.parquet")["address_code"].iloc[0]
            assert "匿名反映矛盾纠纷" in c.get(f"/tip/{code}").text          # the public tip page is served too
    finally:
        if res.console is not None:
            res.console.stop()


@pytest.mark.slow
@pytest.mark.service
def test_demo_runs_on_postgresql_when_the_settings_say_so(tmp_path, monkeypatch):
    """WEIMENG_DATABASE_URL and MLFLOW_TRACKING_URI point at PostgreSQL: the alert store and the MLflow
    registry land there, and no SQLite store is written into the demo's home."""
    import sqlalchemy as sa

    from common.settings import Settings
    from tests._postgres import temporary_database
    from weimeng.demo import DemoConfig, run_demo

    with temporary_database("demo_ops") as ops_url, temporary_database("demo_mlflow") as mlflow_url:
        monkeypatch.setenv("WEIMENG_DATABASE_URL", ops_url)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
        home = tmp_path / "home"
        settings = Settings.from_env(home=home)
        lines: list[str] = []
        cfg = DemoConfig(home=home, people=20_000, approve=3, dismiss=1, serve=False, settings=settings)
        res = run_demo(cfg, echo=lines.append)
        assert len(res.steps) == 12
        assert "postgresql" in res.where["预警库 alert store"] and "postgresql" in res.where["模型登记 MLflow"]
        assert any("写入位置" in line and "postgresql" in line for line in lines)
        assert not (home / "weimeng.db").exists() and not (home / "mlflow.db").exists()
        engine = sa.create_engine(ops_url)
        try:
            with engine.connect() as conn:
                assert conn.scalar(sa.text("SELECT COUNT(*) FROM alerts")) > 0
                assert conn.scalar(sa.text("SELECT COUNT(*) FROM audit_log")) > 0
        finally:
            engine.dispose()
        engine = sa.create_engine(mlflow_url)
        try:
            with engine.connect() as conn:
                assert conn.scalar(sa.text("SELECT COUNT(*) FROM model_versions")) >= 1
        finally:
            engine.dispose()
