"""Test helpers for the ingest: a lossless broker, a paho tap publisher, hub processes, waits."""
import os
import signal
import sqlite3
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

import protocol
from tests.support.procs import BIN, ROOT, Mosquitto, free_port, port_open, wait_until


def lossless_broker(workdir, extra=()):
    """Mosquitto with hub/fleet/deploy/mosquitto.conf. As root it must not drop to the `mosquitto`
    account, or it could not save its persistence file in a root-only test folder."""
    lines = list(extra) + (["user root"] if os.geteuid() == 0 else [])
    return Mosquitto(workdir, extra=lines).start()


def start_ingest(hubdb, mq, **kw):
    """The ingest in this process (writer in a thread), connected to mq."""
    from hub.ingest.service import Ingest
    ing = Ingest(hubdb, mq.url, client_id=kw.pop("client_id", "civic-hub-test"), **kw).start()
    assert wait_until(lambda: ing.connected, 10)
    return ing


def tap(seq, ts=1795393090, kind="mood", value=None, q=None):
    if kind == "mood":
        return {"seq": seq, "ts": ts, "kind": "mood", "value": value or (seq % 4) + 1, "q": q}
    return {"seq": seq, "ts": ts, "kind": "skill", "value": value or "basics", "q": None}


class Publisher:
    """A kiosk-like QoS 1 publisher (paho, reconnecting by itself, resending unacked)."""

    def __init__(self, port, client_id=""):
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=True)
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(0)
        self.c.reconnect_delay_set(0.2, 1)
        self.connected = threading.Event()
        self.c.on_connect = lambda *a: self.connected.set()
        self.c.connect_async("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        assert self.connected.wait(10), "publisher could not connect"
        self.infos = []

    def taps(self, kiosk, seqs, per_msg=10, boot=1):
        seqs = list(seqs)
        for i in range(0, len(seqs), per_msg):
            body = protocol.encode_taps(boot, [tap(s) for s in seqs[i:i + per_msg]])
            self.infos.append(self.c.publish(protocol.topic(kiosk, "taps"), body, qos=1))

    def raw(self, topic, payload, retain=False):
        self.infos.append(self.c.publish(topic, payload, qos=1, retain=retain))

    def wait(self, timeout=30):
        """Until the broker has PUBACKed every message. A message published while the broker
        was away has info.rc NO_CONN but is kept and resent by paho, so read the flag itself."""
        return wait_until(lambda: all(i._published for i in self.infos), timeout)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def rows(db_path, sql="SELECT count(*) FROM taps", args=()):
    c = sqlite3.connect(db_path, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def count(db_path, sql="SELECT count(*) FROM taps", args=()):
    try:
        return rows(db_path, sql, args)[0][0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def wait_count(db_path, n, timeout=30, sql="SELECT count(*) FROM taps"):
    return wait_until(lambda: count(db_path, sql) >= n, timeout, step=0.05)


_sentinels = iter(range(1, 10 ** 9))
SENTINEL = "zz-sentinel"


def settled(port, db_path, timeout=30):
    """Wait until the hub has handled everything sent before this call, instead of sleeping:
    publish a status from a sentinel kiosk with a fresh uptime and wait until the hub has
    stored it. The broker hands a session its messages in order and the hub commits them in
    order, so once the sentinel is stored every earlier message is committed (or refused)."""
    n = next(_sentinels)
    pub = Publisher(port)
    try:
        pub.raw(protocol.topic(SENTINEL, "status"),
                protocol.encode_status(True, fw="sentinel", boot=1, uptime=n, queue=0,
                                       mem_free=0, rssi=0, config_rev=0, filtered=0,
                                       ts=int(time.time())))
        assert pub.wait(timeout), "the broker did not take the sentinel"
    finally:
        pub.close()
    sql = "SELECT count(*) FROM kiosks WHERE id = '%s' AND uptime = %d" % (SENTINEL, n)
    return wait_until(lambda: count(db_path, sql) == 1, timeout)


def start_hub(db_path, broker_url, logfile, command="serve", args=()):
    """`civic serve` (on a free HTTP port) or `civic ingest` as a real process group."""
    cmd = [os.path.join(BIN, "civic"), command, "--broker", broker_url, "--db", db_path]
    port = None
    if command == "serve":
        port = free_port()
        cmd += ["--port", str(port)]
    log = open(logfile, "ab")
    p = subprocess.Popen(cmd + list(args), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    p.http_port = port
    p.logfile = logfile
    return p


def wait_connected(p, timeout=20):
    """Until the hub's log says its MQTT connection is up (and, for serve, HTTP is up)."""
    def ok():
        text = open(p.logfile, errors="replace").read()
        return text.count("event=connected") > getattr(p, "_seen", 0) and \
            (p.http_port is None or port_open(p.http_port))
    got = wait_until(ok, timeout)
    p._seen = open(p.logfile, errors="replace").read().count("event=connected")
    return got


def kill_group(p, sig=signal.SIGKILL):
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        p.wait(15)
