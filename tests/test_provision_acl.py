"""`civic kiosk provision` + `civic broker config` against a real Mosquitto: no kiosk may ever
speak for another (issue 6)."""
import json
import os
import signal
import subprocess

from hub.fleet import provision
from hub.kiosk_tools import first_status as kiosk_wait
from tests.support.certs import make_certs
from tests.support.mqtt import Peer
from tests.support.procs import free_port, mosquitto_exe, port_open, wait_until
from tests.support.registry import RegistryBroker


def forge(reg, topic, payload, retain=False):
    """Kiosk A publishes where it may not. Mosquitto drops it (and drops A's connection)."""
    f = reg.peer(reg.port, "kiosk-a", reg.a["password"])
    assert f.ok
    info = f.c.publish(topic, payload, qos=1, retain=retain)
    wait_until(lambda: info.is_published() or not f.connected, 5)
    f.close()


def test_kiosk_cannot_speak_for_another_and_hub_hears_all(reg):
    hub = reg.peer(reg.port, reg.hub["username"], reg.hub["password"])
    assert hub.ok
    # The ingest's way to read taps (a shared subscription) and the status registry.
    hub.subscribe("$share/ingest/civic/v1/+/taps")
    hub.subscribe("civic/v1/+/status")
    hub.publish("civic/v1/kiosk-a/config", b'{"rev": 1, "for": "a"}', retain=True)
    hub.publish("civic/v1/kiosk-b/config", b'{"rev": 1, "for": "b"}', retain=True)
    hub.publish("civic/v1/kiosk-a/receipt", b'{"upto": 7, "for": "a"}', retain=True)
    hub.publish("civic/v1/kiosk-b/receipt", b'{"upto": 9, "for": "b"}', retain=True)
    # A tries to speak for B: a tap, a retained status, and a config that would steer B.
    forge(reg, "civic/v1/kiosk-b/taps", b"forged-tap")
    forge(reg, "civic/v1/kiosk-b/status", b"forged-status", retain=True)
    forge(reg, "civic/v1/kiosk-b/config", b"forged-config", retain=True)
    # ... and a receipt that would make B delete taps the hub never had, or its own.
    forge(reg, "civic/v1/kiosk-b/receipt", b"forged-receipt", retain=True)
    forge(reg, "civic/v1/kiosk-a/receipt", b"forged-own-receipt", retain=True)
    forge(reg, "civic/v1/other/taps", b"forged-elsewhere")
    # A listens as widely as it can and names B's config outright, then sends its own.
    a = reg.peer(reg.port, "kiosk-a", reg.a["password"])
    b = reg.peer(reg.port, "kiosk-b", reg.b["password"])
    assert a.ok and b.ok
    a.subscribe("civic/v1/#")
    a.subscribe("civic/v1/kiosk-b/config")
    a.subscribe("civic/v1/kiosk-b/receipt")
    a.publish("civic/v1/kiosk-a/taps", b"a-own-tap")
    a.publish("civic/v1/kiosk-a/status", b"a-own-status", retain=True)
    b.publish("civic/v1/kiosk-b/taps", b"b-own-tap")
    assert hub.wait_for(b"a-own-tap") and hub.wait_for(b"b-own-tap")
    assert hub.wait_for(b"a-own-status")
    assert not [p for p in hub.payloads() if p.startswith(b"forged")]
    # A hears its own config, never B's, nor anybody's taps or status.
    assert wait_until(lambda: a.payloads("civic/v1/kiosk-a/config"), 5)
    assert wait_until(lambda: a.payloads("civic/v1/kiosk-a/receipt"), 5)
    b.publish("civic/v1/kiosk-b/status", b"b-own-status", retain=True)
    assert hub.wait_for(b"b-own-status")
    assert sorted(a.payloads()) == [b'{"rev": 1, "for": "a"}', b'{"upto": 7, "for": "a"}']
    # The hub reads everything under civic/v1, on either listener; B's config is untouched.
    late = reg.peer(reg.hub_port, reg.hub["username"], reg.hub["password"])
    late.subscribe("civic/v1/#")
    for p in (b'{"rev": 1, "for": "b"}', b'{"rev": 1, "for": "a"}', b"a-own-status",
              b"b-own-status", b'{"upto": 7, "for": "a"}', b'{"upto": 9, "for": "b"}'):
        assert late.wait_for(p)
    assert not [p for p in late.payloads() if p.startswith(b"forged")]


def test_wrong_password_anonymous_and_session_takeover_refused(reg):
    assert reg.peer(reg.port, "kiosk-a", "not-the-password").rc == "Not authorized"
    assert reg.peer(reg.port, "kiosk-a", reg.b["password"]).rc == "Not authorized"
    assert reg.peer(reg.port).rc == "Not authorized"
    assert reg.peer(reg.hub_port).rc == "Not authorized"
    assert reg.peer(reg.port, "civic_hub", reg.a["password"]).rc == "Not authorized"
    # The hub's persistent session (stable client id, on its own listener) gathers taps while
    # the hub is away; kiosk A connecting with that client id must not take the session over.
    hub = reg.peer(reg.hub_port, reg.hub["username"], reg.hub["password"],
                   client_id="civic-ingest", clean=False)
    hub.subscribe("civic/v1/+/taps")
    hub.close()
    b = reg.peer(reg.port, "kiosk-b", reg.b["password"])
    b.publish("civic/v1/kiosk-b/taps", b"while-hub-away-1")
    thief = reg.peer(reg.port, "kiosk-a", reg.a["password"], client_id="civic-ingest",
                     clean=False)
    assert thief.ok
    b.publish("civic/v1/kiosk-b/taps", b"while-hub-away-2")
    thief.close()
    hub = reg.peer(reg.hub_port, reg.hub["username"], reg.hub["password"],
                   client_id="civic-ingest", clean=False)
    assert hub.wait_for(b"while-hub-away-1") and hub.wait_for(b"while-hub-away-2")
    assert thief.payloads() == []


def test_revoke_and_sighup_shuts_a_connected_kiosk_out(reg):
    a = reg.peer(reg.port, "kiosk-a", reg.a["password"])
    b = reg.peer(reg.port, "kiosk-b", reg.b["password"])
    hub = reg.peer(reg.hub_port, reg.hub["username"], reg.hub["password"])
    hub.subscribe("civic/v1/+/taps")
    assert a.ok and b.ok
    msg = provision.revoke_kiosk(reg.db, "kiosk-a", reg.dir)
    assert "broker reloaded (pid %d)" % reg.proc.pid in msg
    assert wait_until(lambda: not a.connected, 5), "revoked kiosk still connected"
    assert reg.peer(reg.port, "kiosk-a", reg.a["password"]).rc == "Not authorized"
    b.publish("civic/v1/kiosk-b/taps", b"b-still-works")
    assert hub.wait_for(b"b-still-works")
    # Provisioning again gives a new password; the old one stays dead.
    new = json.loads(provision.provision_kiosk(reg.db, "kiosk-a"))
    provision.write_broker_config(reg.db, reg.dir, reload=True)
    assert wait_until(lambda: reg.peer(reg.port, "kiosk-a", new["password"]).ok, 5)
    assert reg.peer(reg.port, "kiosk-a", reg.a["password"]).rc == "Not authorized"


def test_tls_listener_for_kiosks(db_path, tmp_path):
    ca, crt, key = make_certs(str(tmp_path))
    reg = RegistryBroker(db_path, kiosks=("kiosk-t",), tls=(crt, key))
    assert "certfile %s/server.crt" % reg.dir in open(reg.dir + "/mosquitto.conf").read()
    reg.start()
    peers = []
    try:
        hub = Peer(reg.hub_port, reg.hub["username"], reg.hub["password"])
        peers.append(hub)
        hub.subscribe("civic/v1/+/taps")
        plain = Peer(reg.port, "kiosk-t", reg.creds["kiosk-t"]["password"])
        peers.append(plain)
        assert not plain.ok  # no TLS, no entry
        k = Peer(reg.port, "kiosk-t", reg.creds["kiosk-t"]["password"], tls_ca=ca)
        peers.append(k)
        assert k.ok
        k.publish("civic/v1/kiosk-t/taps", b"over-tls")
        assert hub.wait_for(b"over-tls")
        # flash's status watcher speaks mqtts:// with the same CA file.
        w = kiosk_wait.StatusWatcher("mqtts://127.0.0.1:%d" % reg.port, "civic_hub",
                                     reg.hub["password"], "kiosk-t", ca=ca)
        k.publish("civic/v1/kiosk-t/status", b'{"online": true, "fw": "9"}', retain=True)
        assert w.wait(5)["fw"] == "9"
        w.close()
    finally:
        for p in peers:
            p.close()
        reg.stop()


def test_broker_starts_from_a_private_folder(db_path, tmp_path):
    """`mosquitto -c DIR/mosquitto.conf` starts even where the `mosquitto` account cannot reach
    DIR (pytest's tmp_path is under a 0700 folder): as root it then stays root, with a warning."""
    k = json.loads(provision.provision_kiosk(db_path, "kiosk-p"))
    d, port = tmp_path / "broker", free_port()
    report = json.loads(provision.write_broker_config(db_path, str(d), port,
                                                      hub_port=free_port()))
    if os.geteuid() == 0:
        assert "runs as root" in report["warnings"][0]
    log = open(tmp_path / "mosquitto.log", "w")
    proc = subprocess.Popen([mosquitto_exe(), "-c", str(d / "mosquitto.conf")], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_until(lambda: port_open(port), 10), open(tmp_path / "mosquitto.log").read()
        p = Peer(port, "kiosk-p", k["password"])
        assert p.ok, open(tmp_path / "mosquitto.log").read()
        p.close()
        # Persistence lives inside DIR: a clean stop saves the broker's state there.
        proc.terminate()
        proc.wait(10)
        assert (d / "data" / "mosquitto.db").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()
