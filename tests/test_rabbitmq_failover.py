"""A RabbitMQ cluster losing nodes while taps flow (issue 18): real nodes, the hub's real ingest
and real kiosks (`civic kiosk sim`), each given the list of the three nodes. The node holding
the hub's session dies by kill -9; later every node is restarted in turn. Every acked tap is
counted exactly once and every kiosk's flash queue drains to 0."""
import json
import sqlite3
import threading

import pytest

from hub.ingest.service import Ingest
from tests.support.kiosk import SimKiosk
from tests.support.procs import wait_until
from tests.support.rabbit import RabbitSetup

KIOSKS = ["fo-0", "fo-1", "fo-2", "rr-0", "rr-1", "rr-2"]
OPEN = {"cooldown_ms": 0, "burst_max": 0, "burst_window_ms": 0}


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    """One cluster for the module (tests/conftest.py keeps the module on one worker)."""
    s = RabbitSetup(tmp_path_factory.mktemp("rabbit"), KIOSKS).start()
    yield s
    s.close()


class Fleet:
    """The hub (in this process) and three kiosks, kiosk i given the node list from node i."""

    def __init__(self, rabbit, tmp_path, prefix, hub_first):
        self.r, self.db = rabbit, rabbit.db
        self.hub_id = "civic-hub-" + prefix
        self.ing = Ingest(self.db, rabbit.url_list(hub_first), user=rabbit.hub["username"],
                          password=rabbit.hub["password"], client_id=self.hub_id).start()
        assert wait_until(lambda: self.ing.connected, 30)
        self.kiosks = []
        c = sqlite3.connect(self.db)
        with c:
            for i in range(3):
                c.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                          "VALUES (?, 1, ?, 0, NULL)", ["%s-%d" % (prefix, i),
                                                       json.dumps(dict(OPEN, rev=1))])
        c.close()
        for i in range(3):
            kid = "%s-%d" % (prefix, i)
            self.kiosks.append(SimKiosk(tmp_path / kid, kid, rabbit.url_list(i),
                                        args=rabbit.kiosk_args(kid)).start())
        for k in self.kiosks:   # rules off (config rev 1), so paced presses all become taps
            k.wait_line(r"^log config rev 1$", 60)

    def tap_for(self, seconds, every_ms=25):
        n = seconds * 1000 // every_ms
        for j, k in enumerate(self.kiosks):
            k.send(*[c for i in range(n) for c in ("press %d" % ((i + j) % 4), "wait %d"
                                                                   % every_ms)])
        return n

    def hub_node(self):
        return self.r.cluster.mqtt_ports.index(self.ing.link.port)

    def counted(self, kid):
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return [r[0] for r in c.execute("SELECT seq FROM taps WHERE kiosk = ?", [kid])]
        finally:
            c.close()

    def check(self, n, timeout=120):
        """Every press acked, every acked tap counted exactly once, every queue back to 0."""
        for k in self.kiosks:
            k.wait_count("ack", n, timeout)
        for k in self.kiosks:
            acked = set(k.seqs("ack", all_runs=True))
            assert len(acked) == n, k.tail()
            ok = wait_until(lambda: acked <= set(self.counted(k.id)), timeout, 0.3)
            missing = sorted(acked - set(self.counted(k.id)))
            assert ok, "%s: %d acked taps never counted, e.g. %s" % (k.id, len(missing),
                                                                     missing[:10])
            assert wait_until(lambda: k.stats()["queue"] == 0, 60, 0.5), k.tail()
            assert sorted(self.counted(k.id)) == sorted(acked)   # once each, nothing more
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            ids = [k.id for k in self.kiosks]
            q = ",".join("?" * len(ids))
            stored = c.execute("SELECT count(*) FROM taps WHERE kiosk IN (%s)" % q,
                               ids).fetchone()[0]
            counted = c.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly WHERE kiosk "
                                "IN (%s)" % q, ids).fetchone()[0]
        finally:
            c.close()
        assert stored == counted == 3 * n, (stored, counted, n)

    def close(self):
        for k in self.kiosks:
            k.kill()
        t = threading.Thread(target=self.ing.stop, daemon=True)
        t.start()
        t.join(20)


def test_node_with_the_hub_session_killed_while_taps_flow(rabbit, tmp_path):
    f = Fleet(rabbit, tmp_path, "fo", hub_first=0)
    try:
        dead = f.hub_node()
        queue = "mqtt-subscription-%sqos1" % f.hub_id
        leader = rabbit.cluster.queue_leader(queue)
        n = f.tap_for(12)
        for k in f.kiosks:
            k.wait_count("sent", 60, 30)             # taps are flowing through the cluster
        rabbit.cluster.kill(dead)                    # kill -9 of the hub's node
        # The hub resumes its session (the quorum queue, led elsewhere now) on another node.
        assert wait_until(lambda: f.ing.connected and f.hub_node() != dead, 60), \
            (f.ing.link.port, dead)
        assert f.ing.link.session_present
        f.check(n)
        # The hub's queue lives on: a leader on a node still up (it was on the dead one when
        # the hub had declared it there).
        assert rabbit.cluster.queue_leader(queue) in rabbit.cluster.names, leader
        assert rabbit.cluster.queue_leader(queue) != rabbit.cluster.names[dead]
    finally:
        f.close()
        if rabbit.cluster.procs[dead].poll() is not None:
            rabbit.cluster.start(dead)
            rabbit.cluster.wait_up(dead)
            rabbit.cluster.wait_clustered()


def test_rolling_restart_of_every_node_loses_nothing(rabbit, tmp_path):
    f = Fleet(rabbit, tmp_path, "rr", hub_first=1)
    try:
        n = f.tap_for(25)
        for i in range(3):
            for k in f.kiosks:
                k.wait_count("sent", 40 * (i + 1), 60)
            stopped = rabbit.cluster.stop(i)
            assert stopped.returncode == 0, stopped.stderr
            rabbit.cluster.start(i)
            rabbit.cluster.wait_up(i)
            rabbit.cluster.wait_clustered()
        f.check(n)
    finally:
        f.close()
