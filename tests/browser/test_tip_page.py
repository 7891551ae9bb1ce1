"""The public tip page on a phone-sized window (390 x 844, headless Chromium): it fits, needs no login, and a
resident's tip arrives in the store without anything about the browser that sent it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from .conftest import screenshot

pytestmark = pytest.mark.service


def test_a_resident_sends_a_tip_from_a_phone(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, engine, world, _alerts, _counties = site
    code = str(world.store().table("addresses")["address_code"].iloc[0])
    d = browser
    d.set_window_size(390, 844)
    d.get(f"{base}/tip/{code}")
    WebDriverWait(d, 10).until(EC.presence_of_element_located((By.ID, "send")))
    assert "匿名反映矛盾纠纷" in d.title
    width = d.execute_script("return window.innerWidth")
    assert d.execute_script("return document.documentElement.scrollWidth") <= width, "no sideways scrolling"
    send = d.find_element(By.ID, "send")
    assert send.size["width"] >= width * 0.7 and send.size["height"] >= 40, "a button a thumb can hit"
    Select(d.find_element(By.ID, "category")).select_by_visible_text("邻里纠纷")
    d.find_element(By.CSS_SELECTOR, "#obs input[value=obs_threat]").click()
    Select(d.find_element(By.ID, "urgency")).select_by_visible_text("较急")
    d.find_element(By.ID, "note").send_keys("隔壁两家因停车位争吵，一方说要报复")
    screenshot(d, "tip", width=390, height=844)
    send.click()
    WebDriverWait(d, 10).until(EC.visibility_of_element_located((By.ID, "thanks")))
    assert "已收到" in d.find_element(By.ID, "thanks").text
    assert d.get_cookies() == []
    ua = d.execute_script("return navigator.userAgent")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM tips WHERE address_code = :c"), {"c": code}).all()
    assert len(rows) == 1 and "停车位" in " ".join(map(str, rows[0]))
    assert ua not in " ".join(map(str, rows[0])) and "127.0.0.1" not in " ".join(map(str, rows[0]))
