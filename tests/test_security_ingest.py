"""Issue 14, attack 8: what a kiosk sends is bounded by what the hub knows and by its clock.
Each message goes through the ingest's own edge validation and Writer, as from the broker."""
import json
import time

import pytest

import protocol
from hub.common.messages import Msg
from hub.ingest.writer import Writer
from hub.store.connection import open_db
from hub.web.questions import create_question, push_question
from tests.support.webdata import add_kiosk


@pytest.fixture
def hub(tmp_path):
    path = str(tmp_path / "civic.db")
    w = Writer(path)
    yield w, path
    w.db.conn.close()


def send(w, kiosk, channel, obj, received=None):
    received = received or time.time()
    m = Msg("civic/v1/%s/%s" % (kiosk, channel), json.dumps(obj).encode(), False, received,
            1, 1, 0)
    return w.process([m])[0][0]


def tap(seq, ts, kind="mood", value=3, q=None):
    return {"seq": seq, "ts": ts, "kind": kind, "value": value, "q": q}


def q(path, sql, args=()):
    return open_db(path).execute(sql, args).fetchall()


def test_attack8_status_far_ahead_is_a_reject_and_never_freezes_the_row(hub):
    w, path = hub
    now = int(time.time())
    assert send(w, "k-1", "status", {"online": True, "ts": now, "fw": "1"})[0] == "status"
    out = send(w, "k-1", "status", {"online": True, "ts": 2 ** 53 - 1, "fw": "evil"})
    assert out[0] == "reject" and "ahead of the hub's clock" in out[1]
    send(w, "k-1", "status", {"online": True, "ts": now + 60, "fw": "2"})
    assert q(path, "SELECT fw, status_ts FROM kiosks WHERE id='k-1'") == [("2", now + 60)]
    assert q(path, "SELECT kiosk FROM rejects WHERE reason LIKE 'ts:%'") == [("k-1",)]


def test_attack8_tap_times_bounded_by_clock_and_earliest_date(hub):
    w, path = hub
    now = int(time.time())
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(1, 1262304000 + 5)]})  # 2010
    assert out[0] == "reject" and "earliest" in out[1]
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(2, 4102444000)]})  # 2099
    assert out[0] == "reject" and "ahead" in out[1]
    # Mixed: the good taps count, the bad one is a reject row of its own.
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(3, now - 5), tap(4, now + 86400),
                                                      tap(5, None)]})
    assert out == ("taps", 2)
    assert q(path, "SELECT seq FROM taps ORDER BY seq") == [(3,), (5,)]
    assert len(q(path, "SELECT 1 FROM rejects WHERE kiosk='k-1'")) == 3


def test_attack8_skills_only_those_ever_configured(hub):
    w, path = hub
    now = int(time.time())
    add_kiosk(path, "k-1", "north")
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(1, now, "skill", "bitcoin")]})
    assert out[0] == "reject" and "never configured" in out[1]
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(2, now, "skill", "basics"),
                                                      tap(3, now, "skill", "hacking")]})
    assert out == ("taps", 1)
    # A category pushed in a config counts, and still does after the config moved on.
    db = open_db(path)
    cfg = dict(protocol.DEFAULT_CONFIG, rev=1, skills=["basics", "housing"])
    with db.conn:
        db.execute("INSERT INTO kiosk_configs VALUES ('k-1', 1, ?, ?, NULL)",
                   [json.dumps(cfg), now])
    with db.conn:  # the way hub/web/questions.py writes a config: an upsert
        db.execute("INSERT INTO kiosk_configs VALUES ('k-1', 2, ?, ?, NULL) ON CONFLICT (kiosk) "
                   "DO UPDATE SET rev = excluded.rev, payload = excluded.payload",
                   [json.dumps(dict(cfg, rev=2, skills=["basics", "work", "work"])), now])
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(4, now, "skill", "housing")]})
    assert out == ("taps", 1)
    values = {r[0] for r in q(path, "SELECT value FROM taps WHERE kind='skill'")}
    assert values == {"basics", "housing"}


def test_attack8_unknown_question_counts_the_tap_but_makes_no_question(hub):
    w, path = hub
    now = int(time.time())
    add_kiosk(path, "k-1", "north")
    db = open_db(path)
    with db.conn:
        create_question(db, "q-real", "Happy?", None, "ann")
        push_question(db, "q-real", ["k-1"])
    out = send(w, "k-1", "taps", {"boot": 1, "taps": [tap(1, now, q="q-real"),
                                                      tap(2, now, q="q-phantom")]})
    assert out == ("taps", 2)
    assert q(path, "SELECT seq, q FROM taps ORDER BY seq") == [(1, "q-real"), (2, None)]
    assert not q(path, "SELECT 1 FROM agg_day WHERE q = 'q-phantom'")
