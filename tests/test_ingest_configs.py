"""Configs from the hub to the kiosks, against a real Mosquitto, in process: every pushed config
is published even when several go out at once, and a config a broker lost heals by itself."""
import json
import time

import paho.mqtt.client as mqtt

import protocol
from hub.store.connection import connect
from tests.support.ingest_tools import count, start_ingest as start
from tests.support.procs import wait_until


def stop(ing, timeout=20):
    """ing.stop(), but a hung ingest fails the test instead of hanging it."""
    import threading
    t = threading.Thread(target=ing.stop, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the ingest did not stop: its threads are stuck"


def push(hubdb, kiosks, rev, question="q-1"):
    w = connect(hubdb)
    with w.conn:
        for k in kiosks:
            cfg = {"rev": rev, "question": {"id": question, "text": {"en": "Happy %s?" % k}}}
            w.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                      "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (kiosk) DO UPDATE SET "
                      "rev = excluded.rev, payload = excluded.payload, "
                      "updated = excluded.updated, published = NULL",
                      [k, rev, json.dumps(cfg), int(time.time())])
    w.conn.close()


class Retained:
    """A subscriber that keeps the last config seen per kiosk."""

    def __init__(self, port, topic="civic/v1/+/config"):
        self.got = {}
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, 1)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, c, u, m):
        self.got[protocol.parse_topic(m.topic)[0]] = m.payload

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_many_configs_at_once_are_all_published(hubdb, mq):
    # The flaky end-to-end failure (a kiosk never got its pushed question): the PUBACK of one
    # config publish arrived while the batch loop published the next one, and the two threads
    # took the same two locks in opposite orders (paho's message lock, then the hub's; the hub's,
    # then paho's). The ingest then hung for good. Many configs at once hit that window.
    ing = start(hubdb, mq)
    kiosks = ["k%d" % i for i in range(300)]
    try:
        for rev in (1, 2, 3):   # three rounds: the window was narrow
            push(hubdb, kiosks, rev)
            assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM kiosk_configs WHERE "
                                                    "published IS NOT NULL") == 300, 20), \
                count(hubdb, "SELECT count(*) FROM kiosk_configs WHERE published IS NOT NULL")
        sub = Retained(mq.port)
        try:
            assert wait_until(lambda: len(sub.got) == 300 and all(
                json.loads(p)["rev"] == 3 for p in sub.got.values()), 20), len(sub.got)
        finally:
            sub.close()
        assert ing.metrics.configs_published == 900
    finally:
        stop(ing)


def status(kiosk, **fields):
    return protocol.encode_status(True, fw="1.0.0", boot=1, uptime=5, queue=0,
                                  ts=int(time.time()), **fields)


def test_a_kiosk_reporting_an_older_config_gets_it_again(hubdb, mq):
    from tests.support.ingest_tools import Publisher
    ing = start(hubdb, mq)
    pub = Publisher(mq.port)
    try:
        push(hubdb, ["k1", "k2", "k3"], 4)
        assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM kiosk_configs "
                                                "WHERE published IS NOT NULL") == 3, 10)
        # The broker loses the retained configs (as a broker that crashed before its save).
        for k in ("k1", "k2", "k3"):
            pub.raw(protocol.topic(k, "config"), b"", retain=True)
        assert pub.wait()
        before = ing.metrics.configs_published
        pub.raw(protocol.topic("k1", "status"), status("k1", config_rev=3))   # older
        pub.raw(protocol.topic("k2", "status"), status("k2", config_rev=4))   # current
        pub.raw(protocol.topic("k3", "status"), status("k3"))                 # none at all
        assert pub.wait()
        sub = Retained(mq.port)
        try:
            assert wait_until(lambda: set(sub.got) == {"k1", "k3"}, 10), sub.got
            assert json.loads(sub.got["k1"])["rev"] == 4
        finally:
            sub.close()
        assert wait_until(lambda: ing.metrics.configs_published == before + 2, 10)
        assert count(hubdb, "SELECT count(*) FROM kiosk_configs WHERE published IS NULL") == 0
    finally:
        pub.close()
        stop(ing)


def test_configs_and_receipts_go_again_when_the_broker_lost_the_session(tmp_path, hubdb, mq):
    import shutil
    from tests.support.ingest_tools import Publisher
    from tests.support.procs import Mosquitto
    ing = start(hubdb, mq)
    fresh = None
    try:
        push(hubdb, ["k1", "k2"], 2)
        assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM kiosk_configs "
                                                "WHERE published IS NOT NULL") == 2, 10)
        pub = Publisher(mq.port)
        pub.taps("k1", range(1, 11))
        assert pub.wait()
        pub.close()
        assert wait_until(lambda: ing.metrics.receipts_published >= 1, 10)
        # A new, empty broker on the same port: no session, no retained message. The hub
        # reconnects with session_present=0 and publishes both again, unasked.
        mq.kill()
        shutil.rmtree(mq.dir)
        fresh = Mosquitto(tmp_path / "fresh", port=mq.port).start()
        configs = Retained(fresh.port)
        receipts = Retained(fresh.port, "civic/v1/+/receipt")
        try:
            assert wait_until(lambda: set(configs.got) == {"k1", "k2"}, 40), configs.got
            assert wait_until(lambda: "k1" in receipts.got, 10)
            assert protocol.decode_receipt(receipts.got["k1"]) == (10, [])
        finally:
            configs.close()
            receipts.close()
    finally:
        stop(ing)
        if fresh:
            fresh.kill()
