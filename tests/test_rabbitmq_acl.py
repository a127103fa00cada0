"""`civic broker config --kind rabbitmq` on a real three-node RabbitMQ cluster: its permissions
refuse exactly what the Mosquitto ACL refuses (the same matrix run on both brokers), nobody gets
in without an account, and kiosks and the hub spread over the nodes still hear each other
without retained messages (issue 18)."""
import json
import os
import sqlite3
import threading

import pytest

import protocol
from hub.ingest.service import Ingest
from tests.support.kiosk import SimKiosk
from tests.support.mqtt import Peer
from tests.support.procs import wait_until
from tests.support.rabbit import RabbitSetup
from tests.support.registry import RegistryBroker

KIOSKS = ["kiosk-a", "kiosk-b", "spread-0", "spread-1", "spread-2"]


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    """One cluster for the module (tests/conftest.py keeps the module on one worker)."""
    s = RabbitSetup(tmp_path_factory.mktemp("rabbit"), KIOSKS).start()
    yield s
    s.close()


class Doors:
    """Where the hub and each kiosk log in, the same way for both brokers."""

    def __init__(self, kiosk_port, hub_port, hub, creds):
        self.kiosk_port, self.hub_port, self.hub, self.creds = kiosk_port, hub_port, hub, creds

    def kiosk(self, kid, client_id=None):
        return Peer(self.kiosk_port, kid, self.creds[kid]["password"],
                    client_id=client_id or kid)

    def hub_peer(self):
        return Peer(self.hub_port, self.hub["username"], self.hub["password"],
                    client_id="civic-acl-test")


def can_write(doors, hub, kid, topic, n):
    """kiosk `kid` publishes on `topic`, then its own status as a sentinel. -> whether the hub
    got the first. RabbitMQ closes a connection that publishes where it may not (the sentinel
    never goes); Mosquitto drops the message and goes on (the sentinel arrives after it)."""
    k = doors.kiosk(kid)
    assert k.ok, k.rc
    payload, sentinel = b"probe-%d" % n, b"sentinel-%d" % n
    k.c.publish(topic, payload, qos=1)
    k.c.publish(protocol.topic(kid, "status"), sentinel, qos=1)
    assert wait_until(lambda: sentinel in hub.payloads() or not k.connected, 10)
    k.close()
    return payload in hub.payloads()


def can_read(doors, hub, kid, topic, n, on=None):
    """kiosk `kid` subscribes to its own config, then to `topic`; the hub publishes on `on`
    (default: `topic`), then on the kiosk's config as a sentinel. -> whether the kiosk got the
    first."""
    k = doors.kiosk(kid)
    assert k.ok, k.rc
    k.subscribe(protocol.topic(kid, "config"))
    answered = threading.Event()
    k.c.on_subscribe = lambda *a: answered.set()
    k.c.subscribe(topic, 1)
    # Its SUBACK (Mosquitto), or the connection closed (RabbitMQ refusing it).
    assert wait_until(lambda: answered.is_set() or not k.connected, 10)
    payload, sentinel = b"probe-%d" % n, b"sentinel-%d" % n
    hub.publish(on or topic, payload, retain=False)
    hub.publish(protocol.topic(kid, "config"), sentinel, retain=False)
    assert wait_until(lambda: sentinel in k.payloads() or not k.connected, 10)
    k.close()
    return payload in k.payloads()


def matrix(doors):
    """What a kiosk may write and read: its own channels, another kiosk's, wildcards."""
    hub = doors.hub_peer()
    assert hub.ok, hub.rc
    hub.subscribe(protocol.ROOT + "/#")
    out, n = {}, 0
    for ch in protocol.CHANNELS:
        for whose in ("kiosk-a", "kiosk-b"):
            n += 1
            out["write %s %s" % (whose, ch)] = can_write(doors, hub, "kiosk-a",
                                                         protocol.topic(whose, ch), n)
            n += 1
            out["read %s %s" % (whose, ch)] = can_read(doors, hub, "kiosk-a",
                                                       protocol.topic(whose, ch), n)
    n += 1
    out["read every config"] = can_read(doors, hub, "kiosk-a", protocol.every_kiosk("config"), n,
                                         protocol.topic("kiosk-b", "config"))
    n += 1
    out["read all"] = can_read(doors, hub, "kiosk-a", protocol.ROOT + "/#", n,
                               protocol.topic("kiosk-b", "receipt"))
    n += 1
    out["write outside"] = can_write(doors, hub, "kiosk-a", "elsewhere/kiosk-a/taps", n)
    hub.close()
    return out


def expected():
    want = {}
    for ch in protocol.CHANNELS:
        want["write kiosk-a " + ch] = ch in protocol.KIOSK_WRITES
        want["read kiosk-a " + ch] = ch in protocol.KIOSK_READS
        want["write kiosk-b " + ch] = want["read kiosk-b " + ch] = False
    want.update({"read every config": False, "read all": False, "write outside": False})
    return want


def test_rabbitmq_refuses_what_mosquitto_refuses(rabbit, tmp_path):
    reg = RegistryBroker(str(tmp_path / "m.db"), kiosks=("kiosk-a", "kiosk-b")).start()
    try:
        mosq = matrix(Doors(reg.port, reg.hub_port, reg.hub, reg.creds))
    finally:
        reg.stop()
    ports = rabbit.cluster.mqtt_ports
    # The kiosk on one node, the hub on another: permissions are the cluster's.
    rmq = matrix(Doors(ports[0], ports[1], rabbit.hub, rabbit.creds))
    assert mosq == expected()
    assert rmq == mosq


def test_no_way_in_without_an_account(rabbit):
    port = rabbit.cluster.mqtt_ports[2]
    for user, password in ((None, None), ("guest", "guest"), ("kiosk-a", "wrong"),
                           ("kiosk-a", rabbit.creds["kiosk-b"]["password"]),
                           ("nobody", "x")):
        p = Peer(port, user, password, client_id="probe")
        try:
            assert not p.ok, (user, p.rc)
        finally:
            p.close()
    p = Peer(port, "kiosk-a", rabbit.creds["kiosk-a"]["password"], client_id="kiosk-a")
    assert p.ok, p.rc
    p.close()


def test_a_kiosk_cannot_take_the_hub_queue(rabbit):
    """RabbitMQ 3.10 does not tie a client id to its account: a kiosk's credentials with the
    hub's client id are refused (no `configure` right on the hub's queue), and the hub's queue,
    with what it holds, stays."""
    ports = rabbit.cluster.mqtt_ports
    hub = Peer(ports[0], rabbit.hub["username"], rabbit.hub["password"], client_id="civic-held",
               clean=False, reconnect=True)
    hub.subscribe(protocol.every_kiosk("taps"))
    hub.close()
    k = Peer(ports[1], "kiosk-a", rabbit.creds["kiosk-a"]["password"])
    k.publish(protocol.topic("kiosk-a", "taps"), b"held-tap")
    k.close()
    thief = Peer(ports[2], "kiosk-b", rabbit.creds["kiosk-b"]["password"], client_id="civic-held")
    assert not thief.ok, thief.rc
    thief.close()
    back = Peer(ports[2], rabbit.hub["username"], rabbit.hub["password"], client_id="civic-held",
                clean=False)
    try:
        assert back.ok and back.wait_for(b"held-tap", 10), back.got
    finally:
        back.close()


def test_hub_and_kiosks_spread_over_the_nodes(rabbit, tmp_path):
    """Three kiosks (real firmware), each first on another node, the hub on a fourth choice:
    taps arrive once each, and a config pushed later reaches every kiosk although retained
    messages stay on the node they were published to."""
    db = rabbit.db
    ing = Ingest(db, rabbit.url_list(1), user=rabbit.hub["username"],
                 password=rabbit.hub["password"], client_id="civic-hub-spread").start()
    kiosks = []
    try:
        assert wait_until(lambda: ing.connected, 20)
        for i in range(3):
            kid = "spread-%d" % i
            k = SimKiosk(tmp_path / kid, kid, rabbit.url_list(i),
                         args=rabbit.kiosk_args(kid)).start()
            kiosks.append(k)
        for k in kiosks:
            k.wait_line(r"^log mqtt connected$", 30)
            k.send("press 0", "press 1", "press 2")
        for k in kiosks:
            k.wait_count("ack", 3, 30)
        c = sqlite3.connect(db)
        with c:
            for k in kiosks:
                c.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                          "VALUES (?, 7, ?, 0, NULL)",
                          [k.id, json.dumps({"rev": 7, "cooldown_ms": 0})])
        c.close()

        def counted(kid):
            c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            try:
                return sorted(r[0] for r in c.execute("SELECT seq FROM taps WHERE kiosk = ?",
                                                      [kid]))
            finally:
                c.close()
        for k in kiosks:
            acked = sorted(set(k.seqs("ack")))
            assert wait_until(lambda: counted(k.id) == acked, 30), (k.id, counted(k.id), acked)
            k.wait_line(r"^log config rev 7$", 30)
            assert wait_until(lambda: k.stats()["queue"] == 0, 30), k.tail()
    finally:
        for k in kiosks:
            k.kill()
        t = threading.Thread(target=ing.stop, daemon=True)
        t.start()
        t.join(20)


def test_the_written_files_say_what_the_cluster_runs(rabbit):
    conf = open(os.path.join(rabbit.cluster.conf_dir, "rabbitmq.conf")).read()
    assert "mqtt.durable_queue_type = quorum" in conf and "mqtt.allow_anonymous = false" in conf
    r = rabbit.cluster.ctl(0, "list_queues", "-p", "civic", "name", "type", "--silent",
                           "--no-table-headers")
    types = dict(line.split()[:2] for line in r.stdout.splitlines() if line.strip())
    # Every persistent session of the hub's (client ids civic-...) has a quorum queue,
    # replicated on the three nodes.
    hub = {q: t for q, t in types.items() if q.startswith("mqtt-subscription-civic-")}
    assert hub and set(hub.values()) == {"quorum"}, r.stdout
