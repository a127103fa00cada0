"""The ingest without MQTT: store(), the writer's batch path, seq gaps, registry, rejects."""
import json

import pytest

import protocol
from hub.store import gaps, registry
from hub.store.connection import open_db
from hub.common.messages import Msg
from hub.ingest.validate import classify
from hub.ingest.writer import Writer
from hub.store.taps import store


def tap(seq, ts=1795393090, kind="mood", value=3, q="q-17"):
    return {"seq": seq, "ts": ts, "kind": kind, "value": value, "q": q if kind == "mood" else None}


def decoded(*taps, boot=1):
    return protocol.decode_taps(protocol.encode_taps(boot, list(taps)))


def msg(topic, payload, retain=False, received=1795400000.0, mid=1):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload).encode()
    return Msg(topic.encode() if isinstance(topic, str) else topic, payload, retain, received,
               mid, 1, 1)


@pytest.fixture
def db(tmp_path):
    d = open_db(str(tmp_path / "hub.db"))
    yield d
    d.conn.close()


def count(db, sql, *args):
    return db.execute(sql, args).fetchone()[0]


def test_store_inserts_once_and_counts_duplicates(db):
    assert store(db, [("k1", decoded(tap(1), tap(2)))]) == (2, 0)
    assert store(db, [("k1", decoded(tap(2), tap(3))), ("k2", decoded(tap(1)))]) == (2, 1)
    assert store(db, [("k1", decoded(tap(3), tap(3)))]) == (0, 2)
    assert count(db, "SELECT count(*) FROM taps") == 4
    # rollups see only new taps: the aggregate equals the raw rows
    assert count(db, "SELECT sum(n) FROM rollup_hourly") == 4
    row = db.execute("SELECT kind, value, q, ts_estimated FROM taps WHERE kiosk='k1' AND seq=1"
                     ).fetchone()
    assert row == ("mood", 3, "q-17", 0)


def test_null_ts_uses_received_time_and_is_flagged(db):
    store(db, [("k1", decoded(tap(1, ts=None), tap(2, kind="skill", value="work")))],
          received=1795399999.7)
    rows = db.execute("SELECT seq, ts, ts_estimated, value, received FROM taps ORDER BY seq"
                      ).fetchall()
    assert rows == [(1, 1795399999, 1, 3, 1795399999), (2, 1795393090, 0, "work", 1795399999)]


def test_seq_gaps_open_shrink_split_and_close(db):
    store(db, [("k", decoded(tap(1), tap(2), tap(10)))])
    assert gaps.missing(db.conn, "k") == [[3, 9]]
    store(db, [("k", decoded(tap(5)))])
    assert gaps.missing(db.conn, "k") == [[3, 4], [6, 9]]
    store(db, [("k", decoded(tap(3), tap(9), tap(12)))])
    assert gaps.missing(db.conn, "k") == [[4, 4], [6, 8], [11, 11]]
    store(db, [("k", decoded(*[tap(s) for s in (4, 6, 7, 8, 11)]))])
    assert gaps.missing(db.conn, "k") == []
    # a kiosk first heard at seq 4: 1..3 were sent before and never arrived
    store(db, [("new", decoded(tap(4)))])
    assert gaps.missing(db.conn, "new") == [[1, 3]]


def test_gaps_equal_missing_numbers_whatever_the_order(db):
    import random
    rnd = random.Random(7)
    seqs = list(range(1, 201))
    rnd.shuffle(seqs)
    arrived = set()
    for i in range(0, 150, 10):
        part = seqs[i:i + 10]
        arrived.update(part)
        store(db, [("k", decoded(*[tap(s) for s in part]))])
        want = set(range(1, max(arrived) + 1)) - arrived
        got = {s for a, b in gaps.missing(db.conn, "k") for s in range(a, b + 1)}
        assert got == want


def test_store_is_one_transaction(db, monkeypatch):
    from hub.store import rollups

    def boom(db_, taps):
        raise RuntimeError("rollup failed")
    monkeypatch.setattr(rollups, "apply", boom)
    with pytest.raises(RuntimeError):
        store(db, [("k1", decoded(tap(1)))])
    assert count(db, "SELECT count(*) FROM taps") == 0
    assert count(db, "SELECT count(*) FROM seq_gaps") == 0


def test_writer_rejects_with_reasons(db):
    w = Writer(db)
    good = protocol.encode_taps(1, [tap(1)])
    cases = [
        ("civic/v1/k1/taps", b"\xff\xfe", "bad-utf8"),
        ("civic/v1/k1/taps", b"{not json", "bad-json"),
        ("civic/v1/k1/taps", b"x" * 5000, "oversize"),
        ("civic/v1/k1/taps", json.dumps({"boot": "1", "taps": [tap(1)]}).encode(), "boot"),
        ("civic/v1/k1/taps", protocol.encode_taps(1, [tap(1, value=9)]), "out of range"),
        ("civic/v1/k1/taps", protocol.encode_taps(1, [tap(1, kind="vote")]), "unknown kind"),
        ("civic/v1/k1/taps", json.dumps({"boot": 1, "kiosk": "k2", "taps": [tap(1)]}).encode(),
         "kiosk"),
        ("civic/v1/K1/taps", good, "topic"),
        ("civic/v1/k1/config", good, "topic"),
        (b"civic/v1/\xff/taps", good, "topic"),
    ]
    out, summary = w.process([msg(t, p) for t, p, _ in cases] + [msg("civic/v1/k1/taps", good)])
    assert summary["reject"] == len(cases) and summary["inserted"] == 1
    assert out[-1] == ("taps", 1)
    for (t, p, why), v in zip(cases, out):
        assert v[0] == "reject" and why in v[1], (t, p, v)
    rows = db.execute("SELECT topic, reason, payload FROM rejects ORDER BY id").fetchall()
    assert len(rows) == len(cases)
    assert all(r[1] for r in rows)
    assert rows[2][2] == b"x" * 4096  # kept for diagnosis, bounded
    assert count(db, "SELECT count(*) FROM taps") == 1
    # the same kiosk named in the payload is fine (extra fields are ignored)
    same = json.dumps({"boot": 1, "kiosk": "k1", "taps": [tap(2)]}).encode()
    assert w.process([msg("civic/v1/k1/taps", same)])[0] == [("taps", 1)]


def test_status_registry_and_history(db):
    w = Writer(db)
    db.execute("INSERT INTO kiosks (id, district) VALUES ('k1', 'north')")
    db.conn.commit()
    st = {"online": True, "fw": "1.0.0", "boot": 3, "uptime": 60, "queue": 2, "mem_free": 1000,
          "rssi": -60, "config_rev": 7, "filtered": 1, "ts": 1795393000}
    w.process([msg("civic/v1/k1/status", st, received=1795393001.0)])
    w.process([msg("civic/v1/k1/status", dict(st, uptime=120, ts=1795393060), received=1795393061.0)])
    w.process([msg("civic/v1/k1/status", {"online": False}, received=1795393500.0)])
    # the retained will replayed on the hub's next subscribe changes nothing
    w.process([msg("civic/v1/k1/status", {"online": False}, retain=True, received=1795393600.0)])
    row = db.execute("SELECT district, online, first_seen, last_seen, fw, uptime, config_rev, "
                     "status_ts FROM kiosks WHERE id='k1'").fetchone()
    assert row == ("north", 0, 1795393001, 1795393061, "1.0.0", 120, 7, 1795393060)
    assert registry.history(db.conn, "k1") == [
        {"ts": 1795393500, "online": False, "cause": "will"},
        {"ts": 1795393001, "online": True, "cause": "status"}]
    # an old retained heartbeat does not move last_seen to "now"
    w.process([msg("civic/v1/k2/status", dict(st, ts=1795000000), retain=True,
                   received=1795400000.0)])
    assert db.execute("SELECT online, last_seen FROM kiosks WHERE id='k2'").fetchone() == \
        (1, 1795000000)


def test_taps_touch_kiosk_last_seen(db):
    w = Writer(db)
    w.process([msg("civic/v1/k9/taps", protocol.encode_taps(1, [tap(1)]), received=1795400100.5)])
    assert db.execute("SELECT first_seen, last_seen, online FROM kiosks WHERE id='k9'"
                      ).fetchone() == (1795400100, 1795400100, 0)


def test_classify_never_raises_on_odd_types():
    assert classify(None, b"{}")[0] == "reject"
    assert classify("civic/v1/k/taps", b"[" * 4000)[0] == "reject"
    assert classify("civic/v1/k/taps", "{\"boot\": 1}")[0] == "reject"
