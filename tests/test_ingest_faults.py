"""Real processes: `civic serve` / `civic ingest` against a real Mosquitto, with kill -9 of the
hub, a broker restart, two shared-subscription workers, the writer process killed, and TLS with
a city's own CA; each ends with an exactly-once check.
"""
import json
import os
import re
import signal
import threading
import time
import urllib.request

import pytest

from tests.support.certs import make_certs
from tests.support.ingest_tools import (Publisher, count, kill_group, lossless_broker, rows,
                                        settled, start_hub, wait_connected, wait_count)
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.timeout(120)


class Rig:
    """One test's real processes: a lossless Mosquitto, the hub's database, the hubs it starts
    and the kiosks' publishers. The fixture kills whatever is still running at the end."""

    def __init__(self, tmp_path, extra=()):
        self.tmp = tmp_path
        self.mq = lossless_broker(tmp_path / "broker", extra=extra)
        self.db = str(tmp_path / "hub.db")
        self.hubs, self.pubs = [], []

    def hub(self, command="serve", log="hub.log", args=(), url=None, connected=True):
        """`civic serve` or `civic ingest` on this rig's database; waits for its connection."""
        h = start_hub(self.db, url or self.mq.url, str(self.tmp / log), command=command,
                      args=args)
        self.hubs.append(h)
        if connected:
            assert wait_connected(h), open(h.logfile).read()
        return h

    def stream(self, kiosks, n, pause=0.0):
        t, pubs = stream(self.mq.port, kiosks, n, pause)
        self.pubs += pubs
        return t, pubs

    def close(self):
        for p in self.pubs:
            p.close()
        for h in self.hubs:
            kill_group(h)
        self.mq.kill()


@pytest.fixture
def rig(tmp_path):
    """rig(extra=[mosquitto.conf lines]) -> a Rig, cleaned up after the test."""
    made = []

    def make(extra=()):
        made.append(Rig(tmp_path, extra))
        return made[-1]
    yield make
    for r in made:
        r.close()


def exactly_once(db, kiosks, n):
    """Every seq 1..n of every kiosk is stored once, and the aggregates count each once."""
    assert count(db) == n * len(kiosks)
    for k in kiosks:
        got = [r[0] for r in rows(db, "SELECT seq FROM taps WHERE kiosk=? ORDER BY seq", (k,))]
        assert got == list(range(1, n + 1)), k
    assert count(db, "SELECT sum(n) FROM rollup_hourly") == n * len(kiosks)
    assert count(db, "SELECT count(*) FROM seq_gaps") == 0


def published(t, pubs):
    """The stream thread is done and the broker has PUBACKed every tap to the publishers."""
    t.join(60)
    assert all(p.wait(60) for p in pubs)


def all_stored_once(r, kiosks, n, logfile=None):
    """Wait until every tap is stored and the hub has handled everything sent (a sentinel after
    it is stored), then check: a redelivery counted twice would show by now."""
    assert wait_count(r.db, n * len(kiosks), 60), open(logfile).read()[-3000:] if logfile else ""
    assert settled(r.mq.port, r.db), open(logfile).read()[-3000:] if logfile else ""
    exactly_once(r.db, kiosks, n)


def stream(port, kiosks, n, pause=0.0):
    """Publish seq 1..n for each kiosk, one tap per message, in a thread; returns (thread, pubs)."""
    pubs = [Publisher(port) for _ in kiosks]

    def run():
        for s in range(1, n + 1, 5):
            for p, k in zip(pubs, kiosks):
                p.taps(k, range(s, min(s + 5, n + 1)), per_msg=1)
            if pause:
                time.sleep(pause)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, pubs


def test_serve_kill9_mid_stream_then_restart(rig):
    r = rig()
    hub = r.hub()
    health = json.load(urllib.request.urlopen("http://127.0.0.1:%d/healthz" % hub.http_port))
    assert health["broker"] == "connected"
    kiosks, n = ["k1", "k2", "k3"], 1500
    t, pubs = r.stream(kiosks, n, pause=0.002)
    assert wait_count(r.db, 300, 30)
    kill_group(hub)                      # kill -9 in the middle of the stream
    at_kill = count(r.db)
    assert at_kill < n * len(kiosks)
    published(t, pubs)                   # the broker has every tap (PUBACK to the kiosks)
    hub = r.hub(connected=False)
    all_stored_once(r, kiosks, n)
    kill_group(hub, signal.SIGTERM)      # a clean stop: exit 0, the stop is logged
    assert hub.returncode == 0
    assert "event=ingest_stopped" in open(hub.logfile).read()


def test_broker_restart_mid_stream(rig):
    r = rig()
    hub = r.hub(command="ingest")
    kiosks, n = ["k1", "k2"], 1500
    t, pubs = r.stream(kiosks, n, pause=0.002)
    assert wait_count(r.db, 300, 30)
    assert count(r.db) < n * len(kiosks)
    r.mq.stop()                          # SIGTERM: Mosquitto saves sessions and queues
    time.sleep(0.5)
    r.mq.start()
    assert wait_connected(hub, 30), open(hub.logfile).read()
    published(t, pubs)
    all_stored_once(r, kiosks, n)


def shared_worker(r, i, command="ingest"):
    return r.hub(command=command, log="w%d.log" % i, connected=False,
                 args=["--share", "civic", "--client-id", "civic-ingest-%d" % i])


@pytest.mark.parametrize("first", ["ingest", "serve"])
def test_two_workers_on_a_shared_subscription(rig, first):
    """Two ingest workers, or `civic serve --share` beside one: each takes a part of the taps,
    and every tap is stored once."""
    r = rig()
    workers = [shared_worker(r, 1, first), shared_worker(r, 2)]
    for w in workers:
        assert wait_connected(w), open(w.logfile).read()
    kiosks, n = ["k1", "k2", "k3", "k4"], 1000
    t, pubs = r.stream(kiosks, n)
    published(t, pubs)
    all_stored_once(r, kiosks, n)
    took = []
    for w in workers:                    # a clean stop logs what each worker committed
        kill_group(w, signal.SIGTERM)
        assert w.returncode == 0
        took.append(int(re.findall(r"event=ingest_stopped taps=(\d+)",
                                   open(w.logfile).read())[-1]))
    assert sum(took) == n * len(kiosks) and min(took) > 0, took
    print("split between %s and ingest: %s" % (first, took))


def test_writer_process_killed_mid_stream(rig):
    """The writer child dies (OOM killer, bug): its batch is not acked, a new child commits it."""
    r = rig()
    hub = r.hub(command="ingest")
    pid = int(re.findall(r"event=writer_process pid=(\d+)", open(hub.logfile).read())[0])
    kiosks, n = ["k1", "k2"], 1500
    t, pubs = r.stream(kiosks, n, pause=0.002)
    assert wait_count(r.db, 300, 30)
    os.kill(pid, signal.SIGKILL)
    published(t, pubs)
    all_stored_once(r, kiosks, n, hub.logfile)
    assert open(hub.logfile).read().count("event=writer_process pid=") == 2


def test_shared_worker_kill9_then_back_under_its_id(rig):
    """A shared-subscription worker dies mid-stream: its session keeps its share of the taps
    (unacked and new) and they arrive when it is restarted under the same id (docs/SCALING.md)."""
    r = rig()
    workers = [shared_worker(r, 1), shared_worker(r, 2)]
    for w in workers:
        assert wait_connected(w), open(w.logfile).read()
    kiosks, n = ["k1", "k2", "k3"], 1500
    t, pubs = r.stream(kiosks, n, pause=0.002)
    assert wait_count(r.db, 300, 30)
    kill_group(workers[0])
    published(t, pubs)
    # Mosquitto keeps handing the dead worker's session its share of the new taps...
    assert not wait_count(r.db, n * len(kiosks), 2)
    shared_worker(r, 1)                  # ... which arrive when it is back under its id
    all_stored_once(r, kiosks, n)


def test_ingest_over_mqtts_with_the_citys_own_ca(rig, tmp_path):
    """`civic ingest --ca` to a broker whose certificate a private CA signed: every tap once
    through TLS (the fast lane reads TLS records too), then a hub kill -9 and a restart."""
    certs = tmp_path / "certs"
    certs.mkdir()
    ca, crt, key = make_certs(certs, other_ca=True)
    tls_port = free_port()
    r = rig(extra=["listener %d 127.0.0.1" % tls_port, "cafile " + ca, "certfile " + crt,
                   "keyfile " + key])
    url = "mqtts://localhost:%d" % tls_port
    refused = r.hub(command="ingest", log="refused.log", url=url, connected=False,
                    args=["--ca", str(certs / "other.pem")])
    assert wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in open(refused.logfile).read(),
                      20), open(refused.logfile).read()[-2000:]
    kill_group(refused)
    hub = r.hub(command="ingest", url=url, args=["--ca", ca])
    kiosks, n = ["k1", "k2", "k3"], 1500
    t, pubs = r.stream(kiosks, n, pause=0.002)
    time.sleep(0.5)
    kill_group(hub)
    hub = r.hub(command="ingest", url=url, args=["--ca", ca], connected=False)
    published(t, pubs)
    all_stored_once(r, kiosks, n, hub.logfile)
