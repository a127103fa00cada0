"""The ingest against a real Mosquitto, in process: exactly once, rejects, registry, configs,
persistent session, /healthz and /metrics."""
import json
import time

import paho.mqtt.client as mqtt

import protocol
from tests.support.ingest_tools import (Publisher, count, rows, settled,
                                        start_ingest as start, wait_count)
from tests.support.procs import wait_until


def test_taps_rejects_and_redelivery_counted_once(hubdb, mq):
    ing = start(hubdb, mq)
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", range(1, 101), per_msg=7)
        pub.taps("k1", range(50, 61), per_msg=11)        # a kiosk resending after a lost PUBACK
        pub.taps("k2", [1, 2, 5], per_msg=1)
        pub.raw("civic/v1/k1/taps", b"\xc3\x28")          # bad UTF-8
        pub.raw("civic/v1/k3/taps", json.dumps({"boot": 1, "kiosk": "k4",
                                                "taps": [{"seq": 1, "ts": None, "kind": "mood",
                                                          "value": 2, "q": None}]}))
        pub.raw("civic/v1/Bad_Id/taps", b"{}")
        assert pub.wait()
        assert wait_count(hubdb, 3, sql="SELECT count(*) FROM rejects")
        assert wait_count(hubdb, 103)
        assert settled(mq.port, hubdb)
        assert count(hubdb) == 103
        assert count(hubdb, "SELECT sum(n) FROM rollup_hourly") == 103
        assert ing.metrics.taps_duplicate == 11
        reasons = [r[0] for r in rows(hubdb, "SELECT reason FROM rejects ORDER BY id")]
        assert reasons[0].startswith("bad-utf8") and reasons[1].startswith("kiosk")
        assert reasons[2].startswith("topic")
        assert rows(hubdb, "SELECT first, last FROM seq_gaps WHERE kiosk='k2'") == [(3, 4)]
    finally:
        pub.close()
        ing.stop()


def test_status_and_last_will_update_the_registry(hubdb, mq):
    ing = start(hubdb, mq)
    kiosk = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="k7")
    kiosk.will_set("civic/v1/k7/status", b'{"online": false}', qos=1, retain=True)
    kiosk.connect("127.0.0.1", mq.port, keepalive=5)
    kiosk.loop_start()
    try:
        st = protocol.encode_status(True, fw="1.2.0", boot=4, uptime=10, queue=0, mem_free=9000,
                                    rssi=-55, config_rev=0, filtered=2, ts=int(time.time()))
        kiosk.publish("civic/v1/k7/status", st, qos=1, retain=True).wait_for_publish(5)
        assert wait_until(lambda: count(hubdb, "SELECT online FROM kiosks WHERE id='k7'"), 10)
        # the kiosk loses power: no DISCONNECT, the broker sends its will
        kiosk.loop_stop()
        kiosk.socket().close()
        assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM kiosk_events") == 2, 20)
        assert rows(hubdb, "SELECT online, fw, filtered FROM kiosks WHERE id='k7'") == \
            [(0, "1.2.0", 2)]
        assert rows(hubdb, "SELECT online, cause FROM kiosk_events ORDER BY id") == \
            [(1, "status"), (0, "will")]
    finally:
        ing.stop()
    # the hub restarts: the retained will is replayed, but it is not a new transition
    ing = start(hubdb, mq)
    try:
        assert wait_until(lambda: ing.link.subscribed.is_set(), 10)
        assert settled(mq.port, hubdb)   # after the replayed will, which came on subscribing
        assert count(hubdb, "SELECT count(*) FROM kiosk_events WHERE kiosk = 'k7'") == 2
    finally:
        ing.stop()


def test_persistent_session_keeps_taps_sent_while_hub_is_down(hubdb, mq):
    ing = start(hubdb, mq)
    ing.stop()                      # subscribed once, then gone
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", range(1, 3001), per_msg=1)   # 3000 messages, more than the default 1000
        assert pub.wait(60)
    finally:
        pub.close()
    assert count(hubdb) == 0
    ing = start(hubdb, mq)
    try:
        assert wait_count(hubdb, 3000, 60)
        assert settled(mq.port, hubdb)
        assert count(hubdb) == 3000
        assert count(hubdb, "SELECT count(*) FROM seq_gaps") == 0
    finally:
        ing.stop()


def test_unpublished_configs_are_published_retained(hubdb, mq):
    ing = start(hubdb, mq)
    got = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload, m.retain))
    try:
        cfg = {"rev": 3, "question": {"id": "q-1", "text": {"en": "Happy?"}}}
        from hub.store.connection import connect
        w = connect(hubdb)
        with w.conn:
            w.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated) VALUES "
                      "('k5', 3, ?, 1)", [json.dumps(cfg)])
        w.conn.close()
        assert wait_until(lambda: count(hubdb, "SELECT published FROM kiosk_configs"), 10)
        sub.connect("127.0.0.1", mq.port)
        sub.subscribe("civic/v1/+/config", 1)
        sub.loop_start()
        assert wait_until(lambda: got, 10)
        assert got[0][0] == "civic/v1/k5/config" and got[0][2]
        assert protocol.decode_config(got[0][1])["question"]["id"] == "q-1"
        assert ing.metrics.configs_published == 1
    finally:
        sub.loop_stop()
        ing.stop()


def test_healthz_and_metrics_follow_the_broker(tmp_path, hubdb, mq):
    from hub import create_app
    ing = start(hubdb, mq)
    app = create_app({"TESTING": True, "DATABASE": hubdb, "SECRET_KEY": "t"})
    app.config["INGEST"] = ing
    client = app.test_client()
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", range(1, 21), per_msg=5)
        pub.raw("civic/v1/k1/taps", b"nope")
        assert pub.wait()
        assert wait_count(hubdb, 20)
        assert wait_count(hubdb, 1, sql="SELECT count(*) FROM rejects")
        h = client.get("/healthz").get_json()
        assert h["broker"] == "connected" and h["ingest"]["connected"] is True
        text = client.get("/metrics").get_data(as_text=True)
        assert "civic_broker_connected 1" in text
        assert "civic_ingest_taps_total 20" in text
        assert "civic_ingest_rejects_total 1" in text
        assert "civic_ingest_batch_seconds_count" in text
        pub.close()
        mq.kill()
        assert wait_until(lambda: not ing.connected, 10)
        assert client.get("/healthz").get_json()["broker"] == "disconnected"
        assert "civic_broker_connected 0" in client.get("/metrics").get_data(as_text=True)
    finally:
        ing.stop()


def test_metrics_without_an_ingest_says_disconnected(client):
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert "civic_broker_connected 0" in r.get_data(as_text=True)


def test_a_failed_commit_is_never_acknowledged(hubdb, mq):
    """The database refuses (disk full, say): nothing is acked, so the broker keeps the taps
    for the hub's session and they arrive once the hub runs again."""
    ing = start(hubdb, mq)

    def refuse(batch):
        raise OSError("disk full (simulated)")
    ing.committer.writer.commit = refuse
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", range(1, 31), per_msg=3)
        assert pub.wait()
        assert wait_until(lambda: ing.metrics.db_errors >= 1, 10)
    finally:
        pub.close()
        ing.stop()
    assert count(hubdb) == 0
    ing = start(hubdb, mq)
    try:
        assert wait_count(hubdb, 30, 20)
        assert settled(mq.port, hubdb)
        assert count(hubdb) == 30 and ing.metrics.taps_ingested == 30
    finally:
        ing.stop()


def test_serve_on_a_taken_port_says_what_to_do(tmp_path, mq):
    import socket
    import subprocess
    from tests.support.procs import BIN
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        r = subprocess.run([BIN + "/civic", "serve", "--broker", mq.url, "--db",
                            str(tmp_path / "h.db"), "--port", str(taken.getsockname()[1])],
                           capture_output=True, text=True, timeout=60)
    finally:
        taken.close()
    assert r.returncode == 1 and "choose another --port" in r.stderr, r.stderr[-500:]
    assert "Traceback" not in r.stderr


def test_commands_on_an_unusable_database_say_what_to_do(tmp_path, mq):
    from tests.support.hubproc import civic
    db = str(tmp_path / "no-such-folder" / "hub.db")
    for args in (["serve", "--broker", mq.url, "--port", "0"], ["ingest", "--broker", mq.url],
                 ["token", "create"], ["kiosk", "provision", "k-1"]):
        r = civic(*args, "--db", db)
        assert r.returncode == 1, (args, r.stderr[-500:])
        assert "Error: cannot open the database" in r.stderr and "--db" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


def test_a_failing_hand_over_keeps_the_network_thread_and_the_taps(hubdb, mq):
    """A bug between paho and the queue must not end paho's thread (the ingest would stop while
    looking connected): the failed messages stay unacked and come again with the next session."""
    ing = start(hubdb, mq)
    real, calls = ing.link.deliver, []

    def first_fails(msgs):
        calls.append(len(msgs))
        if len(calls) == 1:
            raise RuntimeError("simulated bug")
        real(msgs)
    ing.link.deliver = first_fails
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", [1], per_msg=1)
        assert pub.wait() and wait_until(lambda: calls, 10)
        pub.taps("k1", range(2, 21), per_msg=1)      # the thread lives on: these arrive
        assert pub.wait()
        assert wait_count(hubdb, 19, 10)
    finally:
        pub.close()
        ing.stop()
    assert [r[0] for r in rows(hubdb, "SELECT seq FROM taps ORDER BY seq")] == list(range(2, 21))
    ing = start(hubdb, mq)                           # the session sends seq 1 again
    try:
        assert wait_count(hubdb, 20, 10)
    finally:
        ing.stop()


def test_what_the_hub_holds_uncommitted_stays_under_its_bound(hubdb, mq, monkeypatch):
    """A slow writer: the network thread waits at HOLD_MAX_BYTES instead of holding ever more
    messages in memory, and every tap still arrives once."""
    from hub.ingest import service as ingest_service
    monkeypatch.setattr(ingest_service, "HOLD_MAX_BYTES", 4000)
    ing = start(hubdb, mq)
    slow, real = [], ing.committer.writer.commit

    def slow_commit(items):
        time.sleep(0.05)
        return real(items)
    ing.committer.writer.commit = slow_commit
    seen, deliver = [], ing.link.deliver

    def watch(msgs):
        deliver(msgs)
        seen.append((ing._held, ingest_service._held_size(msgs)))
    ing.link.deliver = watch
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", range(1, 601), per_msg=2)
        assert pub.wait()
        assert wait_count(hubdb, 600, 30)
        assert settled(mq.port, hubdb)
        assert count(hubdb) == 600 and count(hubdb, "SELECT sum(n) FROM rollup_hourly") == 600
    finally:
        pub.close()
        ing.stop()
    # what was held after each hand-over: never more than the bound plus that one read
    assert max(held - size for held, size in seen) <= 4000
    assert max(held for held, _size in seen) > 2000      # it did fill up to the bound
