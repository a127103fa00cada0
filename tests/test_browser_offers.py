"""A help offer added with the keyboard alone on the admin page reaches a running kiosk (real
Mosquitto, `civic serve`, `civic kiosk sim` running the firmware under MicroPython, Chromium
driven by Playwright), which shows it (`help TEXT`) after a skills press; the district map,
uploaded on the admin page, renders on the Districts and Skills pages in the colours of their
tables. Screenshots go to test-artifacts/."""
import os
import re

import pytest
from playwright.sync_api import sync_playwright

from hub.demo.run import GEOJSON
from tests.support.hubproc import HubProc, civic
from tests.support.kiosk import SimKiosk
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, login
from tests.support.procs import wait_until

KID = "lib-help-1"
SHOWN = "Free computer help - Library North, Tue 10-12"

# [(district, computed fill)] of the map's areas and of the table rows' swatches.
FILLS_JS = """sel => {
  const map = [...document.querySelectorAll('svg.map path[data-district]')]
      .map(p => [p.dataset.district, getComputedStyle(p).fill]);
  const rows = [...document.querySelectorAll(sel + ' tr[data-district] svg.swatch rect')]
      .map(r => [r.closest('tr').dataset.district, getComputedStyle(r).fill]);
  return {map: Object.fromEntries(map), rows: Object.fromEntries(rows)};
}"""


@pytest.mark.timeout(150)
def test_offer_from_the_admin_page_reaches_a_kiosk_and_the_map_matches_its_table(broker,
                                                                                 tmp_path):
    hub = HubProc(broker.url, tmp_path / "civic.db").start()
    sim = None
    try:
        r = civic("user", "add", "ann", "--role", "admin", "--db", hub.db, stdin="help-pass\n")
        assert r.returncode == 0, r.stderr
        r = civic("kiosk", "provision", KID, "--district", "north", "--db", hub.db)
        assert r.returncode == 0, r.stderr
        hub.make_token()
        sim = SimKiosk(tmp_path / KID, KID, broker.url).start()
        assert wait_until(lambda: any(k["id"] == KID and k["online"]
                                      for k in hub.get("/api/v1/kiosks")), 40), sim.tail(5)
        base = "http://127.0.0.1:%d" % hub.port
        os.makedirs(ARTIFACTS, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                login(page, base, "ann", "help-pass")

                # The offer, with the keyboard alone: Tab from field to field, Enter to add.
                page.goto(base + "/admin/offers")
                page.focus("#offer-skill")
                page.keyboard.type("Internet")          # selects "Internet basics"
                for field, text in (("offer-district", "north"),
                                    ("offer-text-en", "Free computer help"),
                                    ("offer-text-nl", "Gratis computerhulp"),
                                    ("offer-place", "Library North"),
                                    ("offer-times", "Tue 10-12"), ("offer-contact", "")):
                    page.keyboard.press("Tab")
                    assert page.evaluate("document.activeElement.id") == field
                    page.keyboard.type(text)
                page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.id") == "offer-add"
                page.keyboard.press("Enter")
                page.wait_for_url("**added=**")
                assert "Free computer help" in page.inner_text("#offers-table")
                page.screenshot(path=os.path.join(ARTIFACTS, "offer-added.png"), full_page=True)

                # The kiosk applies the new config, then shows the offer after a skills press.
                assert wait_until(lambda: [(k["config_rev"], k["config_rev_wanted"])
                                           for k in hub.get("/api/v1/kiosks")
                                           if k["id"] == KID][0][0] >= 1, 40), sim.tail(10)
                sim.press(4)
                sim.wait_line(r"^help " + re.escape(SHOWN) + "$", 20)
                acked = [l for _t, l in sim.lines if l.startswith(("ack ", "help "))]
                assert acked[-2].startswith("ack ") and acked[-1] == "help " + SHOWN
                sim.press(5)   # eservices: no offer, an ack and nothing else
                sim.press(7)
                sim.wait_count("ack", 3)
                acked = [l for _t, l in sim.lines if l.startswith(("ack ", "help "))]
                assert [l.split()[0] for l in acked] == ["ack", "help", "ack", "ack"], acked

                # The map, uploaded on the admin page, and its colours beside the tables'.
                page.goto(base + "/admin/districts")
                page.set_input_files("input[name=geojson]", GEOJSON)
                page.click("text=Import boundaries")
                page.wait_for_url("**imported=4**")
                assert wait_until(lambda: hub.get("/api/v1/summary")["taps"] >= 3, 30)
                for path, table, shot in (("/districts", "#districts-table", "map-districts"),
                                          ("/skills", "#unmet-table", "map-skills")):
                    page.goto(base + path)
                    fills = page.evaluate(FILLS_JS, table)
                    assert sorted(fills["map"]) == ["centre", "east", "north", "west"], fills
                    assert fills["map"] == fills["rows"], fills
                    # north alone has taps: the darkest class; the others the lightest.
                    assert fills["map"]["north"] == "rgb(8, 81, 156)", fills
                    assert fills["map"]["west"] == "rgb(239, 243, 255)", fills
                    assert page.locator("svg.map rect.legend-swatch").count() == 5
                    page.screenshot(path=os.path.join(ARTIFACTS, shot + ".png"), full_page=True)
            finally:
                browser.close()
    finally:
        if sim:
            sim.kill()
        hub.stop()
