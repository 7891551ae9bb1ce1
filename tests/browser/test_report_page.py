"""The cadre's field-report page on a phone-sized window: enter the inbox token, file a report, see it listed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from serving.operations.inbox.tokens import issue_inbox_token

pytestmark = pytest.mark.service


def test_a_grid_worker_files_a_report_from_a_phone(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, engine, world, _alerts, _counties = site
    es = world.store()
    staff = es.table("staff")
    w = staff[(staff["role"] == "grid_worker") & staff["inbox_id"].notna() & staff["active"].astype(bool)].iloc[0]
    addresses = es.table("addresses")
    code = str(addresses.loc[addresses["grid_id"] == w["grid_id"], "address_code"].iloc[0])
    token = issue_inbox_token(engine, str(w["inbox_id"]), staff_id=str(w["staff_id"]))
    d = browser
    d.set_window_size(390, 844)
    d.get(f"{base}/inbox/report")
    wait = WebDriverWait(d, 10)
    wait.until(EC.visibility_of_element_located((By.ID, "token"))).send_keys(token)
    d.find_element(By.ID, "save").click()
    d.find_element(By.ID, "address").send_keys(code)
    Select(d.find_element(By.ID, "category")).select_by_visible_text("邻里纠纷")
    d.find_element(By.CSS_SELECTOR, "#obs input[value=obs_threat]").click()
    Select(d.find_element(By.ID, "urgency")).select_by_visible_text("紧急")
    d.find_element(By.ID, "note").send_keys("两户因漏水争吵，一方扬言要砸门")
    assert d.execute_script("return document.documentElement.scrollWidth") <= d.execute_script(
        "return window.innerWidth")
    d.find_element(By.ID, "submit").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "result"), "已提交"))
    d.find_element(By.ID, "tab-mine").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "mine"), "两户因漏水争吵"))
    assert "紧急" in d.find_element(By.ID, "mine").text and "村（社区）" in d.find_element(By.ID, "mine").text
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT reporter_staff_id, urgency FROM field_reports")).one()
    assert tuple(row) == (str(w["staff_id"]), "urgent")
