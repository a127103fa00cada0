"""Debian's Chromium for the browser tests (Playwright drives it; nothing is downloaded):
its flags on this closed network, where screenshots go (test-artifacts/), and a staff login."""
import os

from tests.support.procs import ROOT

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def login(page, base, name, password):
    """Log in on the hub at base as a person does, and land on the Overview."""
    page.goto(base + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/overview")
