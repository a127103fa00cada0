"""Issue 14, broker side: `civic broker config` cannot be redirected by the broker account, and
the hub's own listener takes the hub's account only (against a real Mosquitto)."""
import json
import os
import stat
import tempfile

import pytest

from hub.fleet import provision
from tests.support.procs import free_port


def test_attack5_hub_listener_refuses_kiosk_accounts_and_keeps_the_hub_session(reg):
    # The hub's persistent session on its own listener gathers taps while the hub is away.
    hub = reg.peer(reg.hub_port, reg.hub["username"], reg.hub["password"],
                   client_id="civic-ingest", clean=False)
    assert hub.ok
    hub.subscribe("civic/v1/+/taps")
    hub.close()
    b = reg.peer(reg.port, "kiosk-b", reg.b["password"])
    b.publish("civic/v1/kiosk-b/taps", b"while-hub-away-1")
    # A kiosk's own, valid credentials, with the hub's client id and a clean session.
    thief = reg.peer(reg.hub_port, "kiosk-a", reg.a["password"], client_id="civic-ingest",
                     clean=True)
    assert thief.rc == "Not authorized"
    assert reg.peer(reg.hub_port, "kiosk-b", reg.b["password"]).rc == "Not authorized"
    b.publish("civic/v1/kiosk-b/taps", b"while-hub-away-2")
    hub = reg.peer(reg.hub_port, reg.hub["username"], reg.hub["password"],
                   client_id="civic-ingest", clean=False)
    assert hub.wait_for(b"while-hub-away-1") and hub.wait_for(b"while-hub-away-2")
    # Kiosks still work on their own listener, the hub on both.
    assert reg.peer(reg.port, "kiosk-a", reg.a["password"]).ok
    assert reg.peer(reg.port, reg.hub["username"], reg.hub["password"]).ok


@pytest.mark.skipif(os.geteuid() != 0, reason="the attack is on a root-run command")
def test_attack4_planted_links_are_not_followed_and_root_reads_only_roots_files(db_path):
    provision.provision_kiosk(db_path, "kiosk-a")
    d = tempfile.mkdtemp(prefix="civic-broker-")
    victim = tempfile.NamedTemporaryFile("w", delete=False, dir="/tmp", prefix="victim-")
    victim.write("precious")
    victim.close()
    try:
        port = free_port()
        provision.write_broker_config(db_path, d, port, hub_port=free_port())
        # What the mosquitto account could do to its files: plant links where we write.
        for name in ("acl.tmp", "passwd.tmp", "mosquitto.conf.tmp", "acl", "mosquitto.conf"):
            p = os.path.join(d, name)
            if os.path.lexists(p):
                os.unlink(p)
            os.symlink(victim.name, p)
        report = json.loads(provision.write_broker_config(db_path, d))
        assert report["warnings"] == []
        assert open(victim.name).read() == "precious"
        assert os.stat(victim.name).st_uid == 0
        assert stat.S_IMODE(os.stat(victim.name).st_mode) == 0o600
        for name in ("acl", "passwd", "mosquitto.conf"):
            assert not os.path.islink(os.path.join(d, name)), name
        assert "user kiosk-a" in open(os.path.join(d, "acl")).read()
        # The folder and the conf (read by root) belong to root; only what the broker reads
        # as `mosquitto` is given to it, and it may write only its own data folder.
        for path in (d, os.path.join(d, "mosquitto.conf")):
            assert os.stat(path).st_uid == 0, path
            assert not os.stat(path).st_mode & 0o022, path
        # Nothing left behind that we did not create.
        leftovers = {n for n in os.listdir(d) if n.endswith(".tmp") or n.startswith(".")}
        assert leftovers == {"acl.tmp", "passwd.tmp", "mosquitto.conf.tmp"}  # as planted
        # A DIR that is itself a link planted by another account is refused.
        link = d + "-link"
        os.symlink(d, link)
        os.lchown(link, 102 if os.path.exists("/etc/passwd") else 1, 102)
        with pytest.raises(ValueError, match="link"):
            provision.write_broker_config(db_path, link)
        os.unlink(link)
    finally:
        os.unlink(victim.name)
        import shutil
        shutil.rmtree(d, ignore_errors=True)
