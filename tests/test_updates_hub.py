"""Firmware updates, the hub's side: releases, rollouts and status through the CLI; the ingest
publishing MAC'd offers and serving chunks over a real Mosquitto, refusing what is not offered,
following the kiosks' progress and withdrawing ended offers."""
import hashlib
import json
import os
import shutil

import pytest
from click.testing import CliRunner

import protocol
from protocol import updates as pu
from hub.cli import cli
from hub.store.connection import open_db
from hub.updates import releases, rollouts, update_keys
from tests.support.ingest_tools import count, rows, start_ingest
from tests.support.mqtt import Peer
from tests.support.procs import Mosquitto, wait_until


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.output


def city(db_path, kiosks=(("k-1", "north"), ("k-2", "north"), ("s-1", "south"))):
    """Kiosks provisioned as `civic kiosk provision` does (each with its update key)."""
    keys = {}
    for kid, district in kiosks:
        code, out = run("kiosk", "provision", kid, "--district", district, "--db", db_path)
        assert code == 0, out
        keys[kid] = bytes.fromhex(json.loads(out)["update_key"])
    return keys


def test_release_rollout_and_status_from_the_cli(tmp_path):
    db = str(tmp_path / "hub.db")
    keys = city(db)
    assert len(set(keys.values())) == 3   # a key of its own per kiosk
    code, out = run("firmware", "release", "--version", "1.0.1", "--db", db)
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["version"] == "1.0.1" and summary["mpy"] == "6.3"
    assert "compiling app.mpy" in out
    d = open_db(db)
    manifest = releases.manifest_of(d.conn, "1.0.1")
    files = releases.files_of(d.conn, "1.0.1")
    paths = [f[0] for f in manifest["files"]]
    # The loader stays on the board; the rest is the app, each file with its true hash.
    assert not set(paths) & set(pu.LOADER_FILES) and "app.mpy" in paths
    for (path, size, sha), data in zip(manifest["files"], files):
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha, path
    # fwversion says the release's version (compiled: the string is in the .mpy)
    assert b"1.0.1" in files[paths.index("fwversion.mpy")]
    code, out = run("firmware", "release", "--version", "1.0.1", "--db", db)
    assert code == 1 and "exists already" in out and "choose a new version" in out
    code, out = run("firmware", "release", "--version", "../x", "--db", db)
    assert code == 1 and "bad version" in out
    code, out = run("firmware", "release", "--version", "1.0.2", "--from", tmp_path / "nope",
                    "--db", db)
    assert code == 1 and "not a folder" in out
    # Rollouts: a district, then one kiosk twice (n goes up), refusals with what to do.
    code, out = run("firmware", "rollout", "1.0.1", "--district", "north", "--db", db)
    assert code == 0 and json.loads(out)["offered"] == [{"kiosk": "k-1", "n": 1},
                                                        {"kiosk": "k-2", "n": 1}]
    code, out = run("firmware", "rollout", "1.0.1", "--kiosk", "k-1", "--db", db)
    assert json.loads(out)["offered"] == [{"kiosk": "k-1", "n": 2}]
    code, out = run("firmware", "rollout", "9.9.9", "--all", "--db", db)
    assert code == 1 and "no release 9.9.9" in out
    code, out = run("firmware", "rollout", "1.0.1", "--kiosk", "zz-9", "--db", db)
    assert code == 1 and "no such kiosk: zz-9" in out
    code, out = run("firmware", "rollout", "1.0.1", "--district", "west", "--db", db)
    assert code == 1 and "no kiosks in district 'west'" in out
    code, out = run("firmware", "rollout", "1.0.1", "--db", db)
    assert code == 1 and "--kiosk ID" in out
    code, out = run("firmware", "status", "--db", db)
    st = json.loads(out)
    assert [r["version"] for r in st["releases"]] == ["1.0.1"]
    by = {k["id"]: k for k in st["kiosks"]}
    assert by["k-1"]["update"]["n"] == 2 and by["k-1"]["update"]["state"] == "offered"
    assert by["k-2"]["update"]["state"] == "offered" and by["s-1"]["update"] is None
    assert d.execute("SELECT state FROM fw_offers WHERE kiosk = 'k-1' AND n = 1").fetchone()[0] \
        == "superseded"


def test_update_key_for_a_kiosk_provisioned_before_updates(tmp_path):
    db = str(tmp_path / "hub.db")
    city(db, (("k-1", "north"),))
    d = open_db(db)
    with d.conn:
        d.execute("DELETE FROM kiosk_update_keys")   # as before this migration
    assert run("firmware", "release", "--version", "2.0.0", "--db", db)[0] == 0
    code, out = run("firmware", "rollout", "2.0.0", "--kiosk", "k-1", "--db", db)
    assert code == 1 and "civic kiosk update-key" in out
    code, out = run("kiosk", "update-key", "k-1", "--db", db)
    assert code == 0 and update_keys.valid_key_hex(json.loads(out)["update_key"])
    assert run("firmware", "rollout", "2.0.0", "--kiosk", "k-1", "--db", db)[0] == 0
    code, out = run("kiosk", "update-key", "nobody", "--db", db)
    assert code == 1 and "not registered" in out


# ---- the ingest over a real Mosquitto ---------------------------------------------------------
@pytest.fixture
def fleet(mq, hubdb):
    keys = city(hubdb)
    assert run("firmware", "release", "--version", "1.0.1", "--db", hubdb)[0] == 0
    ing = start_ingest(hubdb, mq)
    kiosks = {}
    yield keys, kiosks
    for p in kiosks.values():
        p.close()
    ing.stop()


def kiosk_peer(mq, kiosks, kid):
    p = Peer(mq.port, client_id=kid)
    for ch in ("update", "chunk"):
        p.subscribe(protocol.topic(kid, ch), qos=1)
    kiosks[kid] = p
    return p


def last_offer(peer, kid):
    got = peer.payloads(protocol.topic(kid, "update"))
    return got[-1] if got else None


def fetch_all(peer, kid, offer):
    """Fetch every file of the offer in chunk_max pieces, as a kiosk does -> [bytes]."""
    out = []
    for f, (path, size, _sha) in enumerate(offer["files"]):
        data = b""
        while len(data) < size:
            before = len(peer.payloads(protocol.topic(kid, "chunk")))
            peer.publish(protocol.topic(kid, "fetch"), pu.encode_fetch(
                offer["v"], offer["n"], f, len(data), offer["chunk_max"]), qos=0)
            assert wait_until(lambda: len(peer.payloads(protocol.topic(kid, "chunk")))
                              > before, 10), "no chunk for %s at %d" % (path, len(data))
            c = pu.decode_chunk(peer.payloads(protocol.topic(kid, "chunk"))[before])
            assert "error" not in c and (c["f"], c["off"]) == (f, len(data))
            data += c["data"]
        out.append(data)
    return out


def status(kid, fw="1.0.0", update=None, crash=None):
    body = json.loads(protocol.encode_status(True, fw=fw, boot=2, uptime=5, queue=0,
                                             mem_free=1000, rssi=-50, config_rev=0,
                                             filtered=0))
    if update is not None:
        body["update"] = update
    if crash:
        body["crash"] = crash
    return json.dumps(body).encode()


def test_offers_are_macd_per_kiosk_and_files_served_in_chunks(mq, hubdb, fleet):
    keys, kiosks = fleet
    k1 = kiosk_peer(mq, kiosks, "k-1")
    assert run("firmware", "rollout", "1.0.1", "--district", "north", "--db", hubdb)[0] == 0
    assert wait_until(lambda: last_offer(k1, "k-1"), 10), "no offer published"
    offer = pu.decode_offer(last_offer(k1, "k-1"))
    assert offer["v"] == "1.0.1" and offer["n"] == 1
    assert pu.check_mac("k-1", offer, keys["k-1"])
    assert not pu.check_mac("k-1", offer, keys["k-2"])        # another kiosk's key
    assert not pu.check_mac("k-2", offer, keys["k-2"])        # bound to k-1's id
    assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM fw_offers WHERE pub_due = 0 "
                                           "AND published IS NOT NULL") == 2, 10)
    # s-1 (south) was not offered anything: nothing retained on its topic.
    s1 = kiosk_peer(mq, kiosks, "s-1")
    assert not s1.payloads(protocol.topic("s-1", "update"))
    files = fetch_all(k1, "k-1", offer)
    for (path, size, sha), data in zip(offer["files"], files):
        assert hashlib.sha256(data).hexdigest() == sha, path
    # Progress moves the hub's state; a confirmed update is withdrawn (empty retained).
    k1.publish(protocol.topic("k-1", "status"), status("k-1", update=pu.encode_progress(
        "1.0.1", 1, "downloading", 4096, 30000)))
    assert wait_until(lambda: rows(hubdb, "SELECT state, done FROM fw_offers WHERE kiosk = "
                                          "'k-1'") == [("downloading", 4096)], 10)
    k1.publish(protocol.topic("k-1", "status"), status("k-1", fw="1.0.1", update=pu.encode_progress(
        "1.0.1", 1, "confirmed", 30000, 30000)))
    assert wait_until(lambda: last_offer(k1, "k-1") == b"", 10), "not withdrawn"
    assert rows(hubdb, "SELECT state FROM fw_offers WHERE kiosk = 'k-1'") == [("confirmed",)]
    assert rows(hubdb, "SELECT fw FROM kiosks WHERE id = 'k-1'") == [("1.0.1",)]
    # Once confirmed, its fetches are refused: the release is no longer offered to it.
    k1.publish(protocol.topic("k-1", "fetch"), pu.encode_fetch("1.0.1", 1, 0, 0, 100), qos=0)
    assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM rejects WHERE kiosk = 'k-1' "
                                           "AND reason LIKE 'fetch: release 1.0.1 offer 1 is "
                                           "not offered%'") == 1, 10)


def test_forged_and_bad_fetches_are_refused_with_a_reason(mq, hubdb, fleet):
    _keys, kiosks = fleet
    s1 = kiosk_peer(mq, kiosks, "s-1")
    k1 = kiosk_peer(mq, kiosks, "k-1")
    assert run("firmware", "rollout", "1.0.1", "--kiosk", "k-1", "--db", hubdb)[0] == 0
    assert wait_until(lambda: last_offer(k1, "k-1"), 10)
    # s-1 asks for the release offered to k-1 only: an error chunk and a rejects row.
    s1.publish(protocol.topic("s-1", "fetch"), pu.encode_fetch("1.0.1", 1, 0, 0, 512), qos=0)
    assert wait_until(lambda: s1.payloads(protocol.topic("s-1", "chunk")), 10)
    assert pu.decode_chunk(s1.payloads(protocol.topic("s-1", "chunk"))[0]) == {
        "v": "1.0.1", "error": "not offered"}
    # k-1 asks with a wrong offer number, beyond a file, and sends garbage
    k1.publish(protocol.topic("k-1", "fetch"), pu.encode_fetch("1.0.1", 7, 0, 0, 512), qos=0)
    k1.publish(protocol.topic("k-1", "fetch"), pu.encode_fetch("1.0.1", 1, 39, 0, 512), qos=0)
    k1.publish(protocol.topic("k-1", "fetch"), b'{"v": "1.0.1", "n": 1, "f": 0}', qos=0)
    want = {("s-1", "fetch: release 1.0.1 offer 1 is not offered to this kiosk"),
            ("k-1", "fetch: release 1.0.1 offer 7 is not offered to this kiosk"),
            ("k-1", "fetch: release 1.0.1 has no file 39 at offset 0"),
            ("k-1", "off: missing or not an integer")}

    def refused():   # each reason as far as its first words (protocol/updates.py words them)
        return {(k, r if r.startswith("fetch") else r[:len("off: missing or not an integer")])
                for k, r in rows(hubdb, "SELECT kiosk, reason FROM rejects")}
    assert wait_until(lambda: refused() == want, 10), refused()
    # A bad progress field is refused alone: the rest of the status is kept.
    k1.publish(protocol.topic("k-1", "status"), status("k-1", fw="1.0.0", update={
        "v": "1.0.1", "n": 1, "state": "exploded"}))
    assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM rejects WHERE reason LIKE "
                                           "'update.state:%'") == 1, 10)
    assert rows(hubdb, "SELECT fw, uptime FROM kiosks WHERE id = 'k-1'") == [("1.0.0", 5)]
    assert rows(hubdb, "SELECT state FROM fw_offers WHERE kiosk = 'k-1'") == [("offered",)]


def test_a_rollback_keeps_the_crash_line_and_a_flood_of_fetches_is_cut(mq, hubdb, fleet):
    _keys, kiosks = fleet
    k2 = kiosk_peer(mq, kiosks, "k-2")
    assert run("firmware", "rollout", "1.0.1", "--kiosk", "k-2", "--db", hubdb)[0] == 0
    assert wait_until(lambda: last_offer(k2, "k-2"), 10)
    chunk = protocol.topic("k-2", "chunk")
    for _ in range(300):   # far beyond the rate a kiosk may fetch at
        k2.c.publish(protocol.topic("k-2", "fetch"),
                     pu.encode_fetch("1.0.1", 1, 0, 0, 16), qos=0)
    assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM rejects WHERE kiosk = 'k-2' "
                                           "AND reason LIKE 'fetch: more than%dropped'") == 1,
                      10)
    assert len(k2.payloads(chunk)) < 300
    crash = "Traceback (most recent call last): | File \"app.py\", line 3 | " \
            "ImportError: no module named 'oops'"
    k2.publish(protocol.topic("k-2", "status"), status("k-2", update=pu.encode_progress(
        "1.0.1", 1, "rolled_back", reason="ImportError: no module named 'oops'"), crash=crash))
    assert wait_until(lambda: last_offer(k2, "k-2") == b"", 10), "not withdrawn"
    d = open_db(hubdb)
    k = {x["id"]: x for x in rollouts.report(d.conn)["kiosks"]}["k-2"]
    assert k["update"]["state"] == "rolled_back"
    assert k["update"]["crash"] == "ImportError: no module named 'oops'"


def test_offer_numbers_go_above_what_a_kiosk_has_seen(tmp_path):
    """A hub database restored from an older backup: the kiosk reports offer 7, which the hub
    never made; the next offer is 8, not 1 (the kiosk would refuse 1 as a replay)."""
    db = str(tmp_path / "hub.db")
    city(db, (("k-1", "north"),))
    assert run("firmware", "release", "--version", "1.0.1", "--db", db)[0] == 0
    d = open_db(db)
    with d.conn:
        rollouts.apply_progress(d.conn, "k-1", {"online": True, "fw": "1.0.0", "update": {
            "v": "1.0.0", "n": 7, "state": "confirmed", "done": 0, "total": 0,
            "reason": None}}, 1)
    code, out = run("firmware", "rollout", "1.0.1", "--kiosk", "k-1", "--db", db)
    assert json.loads(out)["offered"] == [{"kiosk": "k-1", "n": 8}]


def test_offers_come_back_on_a_broker_that_lost_them(tmp_path, hubdb):
    """A new, empty broker on the same port (the old one's persistence gone): the ingest's
    session is not present there, so it publishes every unfinished offer again, as configs."""
    from tests.support.ingest_tools import lossless_broker
    city(hubdb, (("k-1", "north"), ("k-2", "north")))
    assert run("firmware", "release", "--version", "1.0.1", "--db", hubdb)[0] == 0
    assert run("firmware", "rollout", "1.0.1", "--district", "north", "--db", hubdb)[0] == 0
    d = open_db(hubdb)
    with d.conn:   # k-2's update ended: nothing of it belongs on the new broker
        d.execute("UPDATE fw_offers SET state = 'confirmed' WHERE kiosk = 'k-2'")
    d.conn.close()
    b = lossless_broker(tmp_path / "broker")
    fresh = ing = peer = None
    try:
        ing = start_ingest(hubdb, b)
        assert wait_until(lambda: count(hubdb, "SELECT count(*) FROM fw_offers WHERE "
                                               "published IS NOT NULL") == 2, 10)
        b.kill()
        shutil.rmtree(b.dir)
        fresh = Mosquitto(tmp_path / "broker2", port=b.port,
                          extra=["user root"] if os.geteuid() == 0 else []).start()
        peer = Peer(fresh.port)
        peer.subscribe("civic/v1/+/update")
        assert wait_until(lambda: peer.payloads(protocol.topic("k-1", "update")), 30)
        offer = pu.decode_offer(peer.payloads(protocol.topic("k-1", "update"))[-1])
        assert (offer["v"], offer["n"]) == ("1.0.1", 1)
        assert not peer.payloads(protocol.topic("k-2", "update"))
    finally:
        for x in (peer, ing):
            if x is not None:
                x.close() if x is peer else x.stop()
        b.kill()
        if fresh:
            fresh.kill()
