"""Every way a broker can lose messages, on real parts: a real Mosquitto (or the demo's embedded
broker), the hub's real ingest, and real kiosks (`civic kiosk sim`, the firmware under
MicroPython). A broker's PUBACK deletes nothing on a kiosk; only the hub's receipt does (issue
11). Each test checks that every acked tap is counted exactly once and that the kiosks' flash
queues drain to 0."""
import json
import os
import shutil
import sqlite3
import threading

import pytest

from hub.ingest.service import Ingest
from tests.support.kiosk import SimKiosk
from tests.support.procs import Mosquitto, free_port, wait_until
from tests.test_ingest_configs import Retained

OPEN = {"cooldown_ms": 0, "burst_max": 0, "burst_window_ms": 0}
HUB_ID = "civic-hub-loss"     # one id across hub restarts: the same persistent session


class Rig:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.db = str(tmp_path / "hub.db")
        self.ing = None
        self.kiosks = []

    def hub_start(self, url):
        self.ing = Ingest(self.db, url, client_id=HUB_ID).start()
        return self.ing

    def hub_stop(self):
        if self.ing is not None:
            t = threading.Thread(target=self.ing.stop, daemon=True)
            t.start()
            t.join(20)
            assert not t.is_alive(), "the ingest did not stop"
            self.ing = None

    def kiosk(self, kid, url, rules=True):
        """A kiosk that has applied the hub's config (misuse rules off, for fast pressing)."""
        if rules:
            self.config(kid)
        k = SimKiosk(self.tmp / kid, kid, url).start()
        self.kiosks.append(k)
        if rules:
            k.wait_line(r"^log config rev 1$", 30)
        return k

    def config(self, kid):
        """Its config, where the hub publishes it from (as the Questions page does)."""
        cfg = dict(OPEN, rev=1, question={"id": "q-loss", "text": {"en": "Lost?"}})
        c = sqlite3.connect(self.db)
        with c:
            c.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                      "VALUES (?, 1, ?, 0, NULL)", [kid, json.dumps(cfg)])
        c.close()

    def press(self, k, n):
        before = len(k.seqs("ack"))
        k.send(*["press %d" % (i % 4) for i in range(n)])
        k.wait_count("ack", before + n, 120)

    def counted(self, kid):
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return [r[0] for r in c.execute("SELECT seq FROM taps WHERE kiosk = ?", [kid])]
        finally:
            c.close()

    def check(self, timeout=90):
        """Every acked tap counted exactly once; every kiosk's queue back to 0."""
        for k in self.kiosks:
            acked = set(k.seqs("ack", all_runs=True))
            assert acked, k.id
            ok = wait_until(lambda: acked <= set(self.counted(k.id)), timeout, 0.2)
            assert ok, "%s: %d acked taps never counted, e.g. %s" % (
                k.id, len(acked - set(self.counted(k.id))),
                sorted(acked - set(self.counted(k.id)))[:10])
            assert wait_until(lambda: k.stats()["queue"] == 0, 30, 0.3), k.tail()
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            stored = c.execute("SELECT count(*) FROM taps").fetchone()[0]
            counted = c.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0]
        finally:
            c.close()
        acked = sum(len(set(k.seqs("ack", all_runs=True))) for k in self.kiosks)
        assert stored == acked and counted == stored, (stored, counted, acked)

    def close(self):
        for k in self.kiosks:
            k.kill()
        self.hub_stop()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def lossless(path, port=None, extra=()):
    lines = list(extra) + (["user root"] if os.geteuid() == 0 else [])
    return Mosquitto(path, extra=lines, port=port).start()


def test_broker_kill9_and_restart_with_kiosks_back_before_the_hub(rig, tmp_path):
    # The broker's default save interval (10 s): a kill -9 loses what came since the last save,
    # here the hub's queued taps. The kiosks reconnect first and are PUBACKed by a broker that
    # has no session for the hub: before receipts, those taps were gone.
    b = lossless(tmp_path / "broker")
    try:
        rig.hub_start(b.url)
        k = rig.kiosk("loss-a", b.url)
        rig.hub_stop()
        rig.press(k, 300)
        k.wait_count("sent", 300, 60)
        assert k.stats()["queue"] == 300          # PUBACKed, not receipted: still on flash
        since = len(k.lines)
        b.kill()
        b.start()                                  # the same folder and port
        k.wait_line(r"^log mqtt connected$", 30, since=since)
        rig.hub_start(b.url)
        rig.check()
    finally:
        b.kill()


def test_broker_replaced_by_an_empty_one(rig, tmp_path):
    b = lossless(tmp_path / "broker")
    fresh = None
    try:
        rig.hub_start(b.url)
        k1 = rig.kiosk("loss-b1", b.url)
        k2 = rig.kiosk("loss-b2", b.url)
        rig.press(k1, 50)
        rig.hub_stop()
        rig.press(k1, 100)
        rig.press(k2, 100)
        k1.wait_count("sent", 150, 60)
        b.kill()
        shutil.rmtree(b.dir)                       # persistence folder gone: a new broker
        fresh = lossless(tmp_path / "broker2", port=b.port)
        rig.hub_start(fresh.url)
        rig.check()
        # The kiosks' retained configs are back on the new broker too (session_present=0).
        sub = Retained(fresh.port)
        try:
            assert wait_until(lambda: {"loss-b1", "loss-b2"} <= set(sub.got), 20), sub.got
        finally:
            sub.close()
    finally:
        b.kill()
        if fresh:
            fresh.kill()


def test_broker_without_persistence_restarts_while_the_hub_is_down(rig, tmp_path):
    b = lossless(tmp_path / "broker", extra=["persistence false"])
    try:
        rig.hub_start(b.url)
        k = rig.kiosk("loss-c", b.url)
        rig.hub_stop()
        rig.press(k, 200)
        k.wait_count("sent", 200, 60)
        b.stop()                                   # a clean stop: nothing is saved anyway
        b.start()
        rig.hub_start(b.url)
        rig.check()
    finally:
        b.kill()


def test_default_max_queued_messages_and_5000_taps_while_the_hub_is_down(rig, tmp_path):
    # Mosquitto's default keeps 1000 messages for an offline client; the rest are dropped.
    b = lossless(tmp_path / "broker", extra=["max_queued_messages 1000"])
    try:
        rig.hub_start(b.url)
        ks = [rig.kiosk("loss-d%d" % i, b.url) for i in range(2)]
        rig.hub_stop()
        for k in ks:   # paced, so most taps travel one per message: far over 1000 messages
            k.send(*[c for i in range(2500) for c in ("press %d" % (i % 4), "wait 1")])
        for k in ks:
            k.wait_count("ack", 2500, 120)
        rig.hub_start(b.url)
        rig.check(120)
        assert rig.ing.metrics.taps_ingested == 5000
    finally:
        b.kill()


def test_embedded_demo_broker_with_kiosks_tapping_before_the_hub_subscribes(rig, tmp_path):
    from hub.demo.embedded_broker import EmbeddedBroker
    eb = EmbeddedBroker(port=free_port()).start()
    try:
        ks = [rig.kiosk("loss-e%d" % i, eb.url, rules=False) for i in range(2)]
        for k in ks:
            k.wait_line(r"^log mqtt connected$", 30)
            # Default misuse rules (no config yet): eight different buttons pass.
            k.send(*["press %d" % b for b in range(8)])
        for k in ks:
            k.wait_count("sent", 8, 30)            # PUBACKed by a broker with no hub session
        rig.hub_start(eb.url)
        rig.check()
    finally:
        rig.hub_stop()
        eb.stop()
