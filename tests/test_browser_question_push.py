"""A question written on the Questions page reaches a running kiosk: real Mosquitto,
`civic serve`, `civic kiosk sim` running the firmware under MicroPython, and Chromium driven by
Playwright. The kiosk prints the question, reports the config revision it applied, and the
Questions page's JSON twin shows it as applied."""
import os
import re

import pytest
from playwright.sync_api import sync_playwright

from tests.support.hubproc import HubProc, civic
from tests.support.kiosk import SimKiosk
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, login
from tests.support.procs import wait_until

TEXT = "Do you like the new library?"


@pytest.mark.timeout(150)
def test_question_from_the_page_reaches_a_running_kiosk(broker, tmp_path):
    hub = HubProc(broker.url, tmp_path / "civic.db").start()
    sim = None
    try:
        r = civic("user", "add", "ann", "--role", "admin", "--db", hub.db, stdin="push-pass\n")
        assert r.returncode == 0, r.stderr
        hub.make_token()
        sim = SimKiosk(tmp_path / "lib-push-1", "lib-push-1", broker.url).start()
        assert wait_until(lambda: any(k["id"] == "lib-push-1" and k["online"]
                                      for k in hub.get("/api/v1/kiosks")), 40), sim.tail(5)
        base = "http://127.0.0.1:%d" % hub.port
        os.makedirs(ARTIFACTS, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                login(page, base, "ann", "push-pass")
                page.goto(base + "/questions")
                form = page.locator("#new-question")
                form.locator("input[name=id]").fill("q-library")
                form.locator("input[name=text_en]").fill(TEXT)
                form.locator("input[name=text_nl]").fill("Vindt u de nieuwe bibliotheek fijn?")
                # The kiosk picked with the keyboard alone: typed into the type-ahead field,
                # then Enter on the form's button.
                form.locator("input[name=kiosk_ids]").focus()
                page.keyboard.type("lib-push-1")
                page.keyboard.press("Escape")          # closes the suggestion list, if open
                form.locator("button[type=submit]").press("Enter")
                page.wait_for_url("**question=q-library**")
                sim.wait_line(r"^question " + re.escape(TEXT) + "$", 40)

                def applied():
                    qs = hub.get("/api/v1/questions?question=q-library")["questions"]
                    return qs and qs[0]["applied"] == 1
                assert wait_until(applied, 30), hub.get("/api/v1/questions")
                page.reload()
                page.screenshot(path=os.path.join(ARTIFACTS, "question-pushed.png"),
                                full_page=True)
            finally:
                browser.close()
        k = [k for k in hub.get("/api/v1/kiosks") if k["id"] == "lib-push-1"][0]
        assert k["config_rev"] == k["config_rev_wanted"] >= 1
    finally:
        if sim:
            sim.kill()
        hub.stop()
