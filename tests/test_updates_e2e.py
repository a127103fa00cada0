"""Firmware updates end to end: the real hub (`civic serve`), a Mosquitto with the kiosks' own
accounts and ACL (`civic broker config`), and real simulated kiosks running the firmware under
MicroPython. Only the outside interfaces are used: the CLI, the sims' lines, the HTTP API and
the hub's database."""
import os
import shutil
import sqlite3
import threading

import pytest

from tests.support.hubproc import HubProc, civic
from tests.support.kiosk import SimKiosk
from tests.support.mqtt import Peer
from tests.support.procs import ROOT, wait_until
from tests.support.registry import RegistryBroker

KIOSKS = (("n-1", "north"), ("n-2", "north"), ("s-1", "south"))
# As tests/test_e2e.py and tests/test_firmware_updates.py: under 128K the factory build with
# its MQTT account has about 17 KB free, below the 24 KB the updater waits for (fwgate.py).
HEAP = "160K"


def q(db, sql, args=()):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    """The firmware compiled as a board is flashed with it (`civic kiosk build`): what the
    kiosks run before their first update."""
    out = tmp_path_factory.mktemp("factory") / "build"
    r = civic("kiosk", "build", "--out", str(out), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return str(out)


@pytest.fixture
def city(tmp_path, factory):
    """Three provisioned kiosks in two districts, their broker, the hub, and a watcher (the
    hub's account) that sees every fetch on the broker. Sims are started by the test."""
    db = str(tmp_path / "civic.db")
    reg = RegistryBroker(db, kiosks=[k for k, _d in KIOSKS])
    c = sqlite3.connect(db)
    with c:
        for kid, district in KIOSKS:
            c.execute("UPDATE kiosks SET district = ? WHERE id = ?", [district, kid])
    c.close()
    reg.start()
    hub = HubProc("mqtt://127.0.0.1:%d" % reg.hub_port, db,
                  extra=["--user", reg.hub["username"], "--password", reg.hub["password"]])
    hub.start()
    hub.make_token()
    watcher = Peer(reg.hub_port, reg.hub["username"], reg.hub["password"])
    watcher.subscribe("civic/v1/+/fetch", qos=0)
    city = type("City", (), {})()
    city.db, city.reg, city.hub, city.watcher, city.tmp, city.sims = db, reg, hub, watcher, \
        tmp_path, {}
    city.factory = factory
    yield city
    for s in city.sims.values():
        s.kill()
    watcher.close()
    hub.stop()
    reg.stop()


def start_sim(city, kid):
    creds = city.reg.creds[kid]
    s = SimKiosk(city.tmp / kid, kid, city.reg.url, heap=HEAP,
                 args=["--build", city.factory, "--user", creds["username"],
                       "--password", creds["password"], "--update-key", creds["update_key"]])
    city.sims[kid] = s.start()
    return s


def release(city, version, firmware_dir=None):
    args = ["firmware", "release", "--version", version, "--db", city.db]
    if firmware_dir:
        args += ["--from", str(firmware_dir)]
    r = civic(*args, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def rollout(city, version, *target):
    r = civic("firmware", "rollout", version, *target, "--db", city.db)
    assert r.returncode == 0, r.stdout + r.stderr


def update_of(city, kid):
    return {k["id"]: k for k in city.hub.get("/api/v1/firmware")["kiosks"]}[kid]


def fetched_by(city, kid):
    return city.watcher.payloads("civic/v1/%s/fetch" % kid)


class Tapper:
    """Presses a kiosk's four mood buttons in turn, one every 0.6 s, in its own thread, until
    stopped: each button every 2.4 s and 17 presses in 10 s, within the default misuse rules
    (a 2 s cooldown per button, 20 presses in 10 s), so every press is a tap."""

    def __init__(self, sim):
        self.sim, self.stop = sim, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        i = 0
        while not self.stop.wait(0.6):
            self.sim.press(i % 4)
            i += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def test_a_district_rollout_updates_that_district_while_it_is_tapped(city):
    release(city, "1.0.1")
    sims = {kid: start_sim(city, kid) for kid, _d in KIOSKS}
    for s in sims.values():
        s.wait_line(r"^fw 1\.0\.0$", 30)
    assert wait_until(lambda: all(update_of(city, k)["fw"] == "1.0.0" for k, _ in KIOSKS), 30)
    n1 = sims["n-1"]

    def acks(start, end=None):
        return {int(l.split()[1]) for _t, l in n1.lines[start:end] if l.startswith("ack ")}
    with Tapper(n1):
        rollout(city, "1.0.1", "--district", "north")
        for kid in ("n-1", "n-2"):
            sims[kid].wait_line(r"^fw 1\.0\.1$", 120)
        assert wait_until(lambda: all(update_of(city, k)["update"]["state"] == "confirmed"
                                      for k in ("n-1", "n-2")), 120), \
            [update_of(city, k) for k in ("n-1", "n-2")]
        switched = [i for i, (_t, line) in enumerate(n1.lines) if line == "fw 1.0.1"][0]
        assert wait_until(lambda: len(acks(switched)) >= 3, 30)   # tapped on the new version
    before, after = acks(0, switched), acks(switched)
    # Each north kiosk reports the new version; the hub withdrew the ended offers.
    for kid in ("n-1", "n-2"):
        assert update_of(city, kid)["fw"] == "1.0.1"
        assert fetched_by(city, kid), "the watcher saw no fetch from %s" % kid
    # South was offered nothing: it never fetched, and runs what it ran.
    assert update_of(city, "s-1")["update"] is None and update_of(city, "s-1")["fw"] == "1.0.0"
    assert not fetched_by(city, "s-1")
    assert not [t for t, _m in sims["s-1"].lines if t and _m.startswith("fw 1.0.1")]
    # Every tap the tapped kiosk acknowledged, under both versions, is in the hub (once: a
    # tap's identity is (kiosk, seq)).
    assert len(before) > 5 and len(after) >= 3, (len(before), len(after))

    def stored():
        return [r[0] for r in q(city.db, "SELECT seq FROM taps WHERE kiosk = 'n-1'")]
    # The tapper has stopped: the hub ends up with exactly the taps the kiosk acknowledged.
    assert wait_until(lambda: sorted(stored()) == sorted(acks(0)), 60), \
        (sorted(set(acks(0)) - set(stored())), sorted(set(stored()) - set(acks(0))))


def test_a_release_that_raises_at_import_rolls_back_and_the_hub_shows_why(city):
    broken = city.tmp / "broken-fw"
    shutil.copytree(os.path.join(ROOT, "firmware"), broken)
    app = (broken / "app.py").read_text()
    (broken / "app.py").write_text("raise ImportError('release 1.0.9 is broken')\n" + app)
    release(city, "1.0.9", broken)
    s = start_sim(city, "s-1")
    s.wait_line(r"^fw 1\.0\.0$", 30)
    rollout(city, "1.0.9", "--kiosk", "s-1")
    s.wait_line(r"^log loader: 1\.0\.9 on trial", 120)   # its app never gets to say `fw`
    since = len(s.lines)
    s.wait_line(r"^fw 1\.0\.0$", 120, since=since)   # back by itself
    assert wait_until(lambda: update_of(city, "s-1")["update"]["state"] == "rolled_back", 90), \
        update_of(city, "s-1")
    u = update_of(city, "s-1")["update"]
    assert "release 1.0.9 is broken" in (u["crash"] or ""), u
    health = {k["id"]: k for k in city.hub.get("/api/v1/kiosk-health")["kiosks"]}["s-1"]
    assert health["update"]["state"] == "rolled_back" and "update" in health["problems"]
    assert "release 1.0.9 is broken" in health["update"]["crash"]
    assert update_of(city, "s-1")["fw"] == "1.0.0"
    # The hub withdrew the ended offer: nothing stale stays retained for the kiosk.
    assert wait_until(lambda: q(city.db, "SELECT pub_due, published IS NOT NULL FROM "
                                         "fw_offers WHERE kiosk = 's-1'") == [(0, 1)], 30)
