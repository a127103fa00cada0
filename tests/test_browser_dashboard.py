"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium against
the hub served by waitress. Screenshots go to test-artifacts/ (kept as CI artifacts)."""
import os
import subprocess
import sys
import time

import pytest
from playwright.sync_api import sync_playwright

from hub.web.auth import add_user
from hub.store.connection import open_db
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, login
from tests.support.procs import ROOT, free_port, port_open, wait_until
from tests.support.webdata import add_kiosk, store_taps



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("browser") / "civic.db")
    open_db(path).conn.close()
    now = int(time.time()) - 120
    add_kiosk(path, "north-1", "North")
    add_kiosk(path, "south-1", "South")
    store_taps(path, "north-1", [(i, now - i * 600, "mood", 1 + i % 4, None) for i in range(1, 31)]
               + [(100 + i, now - i * 900, "skill", "work", None) for i in range(10)])
    store_taps(path, "south-1", [(i, now - i * 700, "skill", "basics", None) for i in range(1, 8)])
    add_kiosk(path, "haven-10", "South")
    add_kiosk(path, "haven-2", "South", online=False, last_seen=int(time.time()) - 7200,
              queue=13)
    db = open_db(path)
    with db.conn:   # what the hub's alert loop would have opened for haven-2
        db.execute("INSERT INTO alerts (kind, subject, message, detail, opened) VALUES "
                   "('offline', 'haven-2', 'offline', ?, ?)",
                   ['{"since": %d}' % (int(time.time()) - 7200), int(time.time())])
    db.conn.close()
    add_user(path, "ann", "browser-pass", "admin")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, waitress; from hub import create_app; "
         "waitress.serve(create_app({'DATABASE': sys.argv[1]}), host='127.0.0.1', "
         "port=int(sys.argv[2]), threads=4, _quiet=True)", path, str(port)],
        cwd=ROOT, start_new_session=True)
    try:
        assert wait_until(lambda: port_open(port), 20)
        yield "http://127.0.0.1:%d" % port
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


@pytest.fixture(scope="module")
def browser():
    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"), full_page=True)


@pytest.mark.timeout(120)
def test_login_charts_and_district_filter(site, browser):
    page = browser.new_page()
    page.goto(site + "/overview")
    assert "/login" in page.url
    page.fill("#name", "ann")
    page.fill("#password", "browser-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/overview")
    assert page.inner_text("#taps-total") == "47"
    # Charts: server-side SVGs with a title, plus a table alternative.
    assert page.locator("svg.chart").count() >= 4
    assert page.locator("svg.chart title").first.text_content() != ""
    assert "work" in page.inner_text("#skills-table")
    shot(page, "overview")
    page.select_option("#filter-district", "South")
    page.click("#apply-filters")
    page.wait_for_url("**district=South**")
    assert page.inner_text("#taps-total") == "7"
    shot(page, "overview-south")
    # The shareable URL gives the same view on its own.
    page.goto(page.url)
    assert page.inner_text("#taps-total") == "7"
    page.close()


def tab_to(page, condition, limit=40):
    for _ in range(limit):
        if page.evaluate(condition):
            return
        page.keyboard.press("Tab")
    pytest.fail("not reachable with Tab: " + condition)


@pytest.mark.timeout(120)
def test_keyboard_only_navigation(site, browser):
    page = browser.new_page()
    page.goto(site + "/login")
    tab_to(page, "document.activeElement.id === 'name'")
    page.keyboard.type("ann")
    page.keyboard.press("Tab")
    page.keyboard.type("browser-pass")
    page.keyboard.press("Enter")
    page.wait_for_url("**/overview")
    page.keyboard.press("Tab")  # first stop: the skip link
    assert page.evaluate("document.activeElement.className") == "skip"
    shot(page, "keyboard-skip-link")
    # Tab through the navigation to "Districts" and follow it with Enter.
    tab_to(page, "document.activeElement.textContent.trim() === 'Districts'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/districts")
    assert page.locator("h1").inner_text() == "Districts"
    # The filter form works from the keyboard too: focus the district select, choose, submit.
    page.focus("#filter-district")
    page.keyboard.press("ArrowDown")  # first district: North
    tab_to(page, "document.activeElement.id === 'apply-filters'")
    page.keyboard.press("Enter")
    page.wait_for_url("**district=North**")
    assert "North" in page.inner_text("#districts-table")
    assert "South" not in page.inner_text("#districts-table")
    shot(page, "keyboard-districts")
    page.close()


@pytest.mark.timeout(120)
def test_kiosk_health_problems_first_filter_by_keyboard_and_switch_language(site, browser):
    page = browser.new_page()
    login(page, site, "ann", "browser-pass")
    assert page.inner_text("#open-alert-count") == "1"       # the menu's open alerts
    page.goto(site + "/kiosks")
    rows = page.locator("#kiosks-table tr th[scope=row]")
    assert rows.first.inner_text() == "haven-2"               # the problem first
    ids = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert ids.index("haven-10") > ids.index("north-1")       # natural order after it
    shot(page, "kiosk-health")
    page.focus("#filter-state")
    page.select_option("#filter-state", "problem")
    tab_to(page, "document.activeElement.id === 'apply-filters'")
    page.keyboard.press("Enter")
    page.wait_for_url("**state=problem**")
    # haven-2 is offline; north-1 has taps missing (seq 31 to 99 never came)
    assert [rows.nth(i).inner_text() for i in range(rows.count())] == ["haven-2", "north-1"]
    page.click("a[lang=nl]")
    page.wait_for_url("**lang=nl**")
    assert "state=problem" in page.url and rows.count() == 2
    assert page.locator("h1").inner_text() == "Kioskstatus"
    shot(page, "kiosk-health-nl")
    csv = page.request.get(site + page.locator("#export-csv").get_attribute("href"))
    assert csv.status == 200 and csv.text().splitlines()[1].startswith("haven-2,")
    page.close()


@pytest.mark.timeout(120)
def test_charts_have_axes_partial_periods_and_the_heatmap_a_legend(site, browser):
    page = browser.new_page()
    login(page, site, "ann", "browser-pass")
    trend = page.locator("svg.chart").first
    assert trend.locator("line.grid").count() >= 3             # ticks with grid lines
    assert trend.locator("circle[fill='#fff']").count() >= 1   # today's period, not complete
    page.goto(site + "/heatmap?lang=nl")
    assert page.locator("svg.chart g.legend").count() == 2
    assert "minste drukken" in page.locator("svg.chart").first.inner_html()
    shot(page, "heatmap-legend-nl")
    page.close()
