"""Retention (hub/store/retention.py): raw taps, rejects and kiosk events are pruned, aggregates
stay, and a pruned tap that is delivered again is still counted only once."""
import json
import time

from click.testing import CliRunner

from hub.cli import cli
from hub.store import retention, rollups
from hub.store.connection import open_db
from tests.support.procs import wait_until
from tests.support.webdata import add_kiosk, store_taps

NOW = int(time.time())
OLD = NOW - 100 * 86400


def _total(db_path):
    db = open_db(db_path)
    try:
        return db.execute("SELECT coalesce(sum(n), 0) FROM agg_day WHERE scope = '*'").fetchone()[0]
    finally:
        db.conn.close()


def _q(db_path, sql, args=()):
    db = open_db(db_path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.conn.close()


def test_pruned_taps_stay_counted_once_and_in_every_rebuild(app, db_path):
    add_kiosk(db_path, "k-1", "north")
    add_kiosk(db_path, "k-2", "south")
    old = [(s, OLD + s, "mood", 3, None) for s in (1, 2, 3, 4, 5, 7, 8, 9, 10)]  # 6 never came
    store_taps(db_path, "k-1", old + [(11, NOW, "mood", 4, None), (12, NOW, "skill", "work", None)])
    store_taps(db_path, "k-2", [(s, OLD, "mood", 1, None) for s in (1, 2, 3)])
    assert _total(db_path) == 14

    res = CliRunner().invoke(cli, ["prune", "--taps-days", "30", "--db", db_path])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["deleted"]["taps"] == 12 and out["settings"]["retention_taps_days"] == 30
    assert [r[0] for r in _q(db_path, "SELECT seq FROM taps ORDER BY kiosk, seq")] == [11, 12]
    assert _total(db_path) == 14                          # the aggregates stay

    assert store_taps(db_path, "k-1", [(3, OLD + 3, "mood", 3, None)]) == (0, 1)  # redelivered
    assert store_taps(db_path, "k-2", [(2, OLD, "mood", 1, None)]) == (0, 1)
    assert _total(db_path) == 14
    assert store_taps(db_path, "k-1", [(6, OLD + 6, "mood", 2, None)]) == (1, 0)  # the gap, late
    assert store_taps(db_path, "k-2", [(4, NOW, "mood", 2, None)]) == (1, 0)
    assert _total(db_path) == 16
    # k-2 had every tap pruned: its next seq opens no false gap 1..3
    assert _q(db_path, "SELECT kiosk, first, last FROM seq_gaps") == []

    db = open_db(db_path)
    try:
        with db.conn:
            rollups.rebuild(db)
    finally:
        db.conn.close()
    assert _total(db_path) == 16                          # a rebuild still counts pruned taps


def test_rejects_and_kiosk_events_stop_growing_and_a_get_prunes_nothing(app, client, db_path):
    db = open_db(db_path)
    with db.conn:
        for i in range(40):
            t = NOW - (40 - i) * 86400
            db.execute("INSERT INTO rejects (received, topic, kiosk, reason, payload) "
                       "VALUES (?, 't', 'k', 'bad', x'00')", [t])
            db.execute("INSERT INTO kiosk_events (kiosk, ts, online, cause) VALUES "
                       "('k', ?, 1, 'status')", [NOW - (200 - i) * 86400])
    retention.save(db, {"retention_rejects_max": 20})
    db.conn.close()
    client.get("/api/v1/open/summary")
    client.get("/open")
    assert _q(db_path, "SELECT count(*) FROM rejects")[0][0] == 40

    service = retention.Housekeeping(db_path, every_s=0.05).start()
    try:
        assert wait_until(lambda: service.rounds >= 1, 10)
    finally:
        service.stop()
    # 30 days kept by default: 29 rows are newer than 30 days, and at most 20 rows are kept
    assert _q(db_path, "SELECT count(*) FROM rejects")[0][0] == 20
    assert _q(db_path, "SELECT min(received) FROM rejects")[0][0] == NOW - 20 * 86400
    assert _q(db_path, "SELECT count(*) FROM kiosk_events")[0][0] == 0   # all older than 90 days
    assert _q(db_path, "SELECT count(*) FROM taps")[0][0] == 0


def test_prune_refuses_nothing_silently():
    try:
        retention.save(None, {"retention_bogus": 1})
    except ValueError as e:
        assert "retention_bogus" in str(e)
    else:
        raise AssertionError("an unknown setting was accepted")
