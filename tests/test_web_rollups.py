"""The aggregates the dashboard reads always equal what the raw taps say."""
import random

from hub.store import rollups
from hub.store.connection import open_db
from tests.support.webdata import add_kiosk, store_taps

BASE = 1_790_000_000  # 2026-09-21


def snapshot(db):
    return {t: sorted(db.execute("SELECT * FROM %s WHERE n != 0" % t).fetchall())
            for t in ("rollup_hourly", "agg_day", "agg_how")}


def random_taps(rng, n, start_seq=1):
    out = []
    for i in range(n):
        ts = BASE + rng.randrange(0, 40 * 86400)
        if rng.random() < 0.6:
            out.append((start_seq + i, ts, "mood", rng.randint(1, 4), rng.choice([None, "q-a", "q-b"])))
        else:
            out.append((start_seq + i, ts, "skill", rng.choice(["basics", "work", "x-1"]), None))
    return out


def test_apply_equals_rebuild_and_moves_and_timezone(db_path, app):
    rng = random.Random(7)
    add_kiosk(db_path, "a-1", "north")
    add_kiosk(db_path, "b-1", "south")
    for k in ("a-1", "b-1", "c-1"):  # c-1: never registered, no district
        store_taps(db_path, k, random_taps(rng, 300))
        store_taps(db_path, k, random_taps(rng, 50))  # duplicates: never counted twice
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM taps").fetchone()[0] == 900
    assert db.execute("SELECT sum(n) FROM agg_day WHERE scope = '*'").fetchone()[0] == 900
    assert db.execute("SELECT sum(n) FROM agg_how WHERE scope = 'd:north'").fetchone()[0] == 300
    incremental = snapshot(db)
    with db.conn:
        rollups.rebuild(db)
    assert snapshot(db) == incremental

    # A kiosk moves district: its whole history moves with it, as a rebuild would put it.
    with db.conn:
        db.execute("UPDATE kiosks SET district = 'south' WHERE id = 'a-1'")
        rollups.move_kiosk(db, "a-1", "north", "south")
    moved = snapshot(db)
    assert db.execute("SELECT count(*) FROM agg_day WHERE scope = 'd:north'").fetchone()[0] == 0
    with db.conn:
        rollups.rebuild(db)
    assert snapshot(db) == moved

    # The city's time zone decides local days and hours: changing it recomputes them.
    before = db.execute("SELECT how, sum(n) FROM agg_how WHERE scope = '*' GROUP BY how").fetchall()
    assert rollups.set_city_tz(db, "America/New_York") is True
    after = db.execute("SELECT how, sum(n) FROM agg_how WHERE scope = '*' GROUP BY how").fetchall()
    assert before != after and sum(n for _h, n in after) == 900
    assert rollups.set_city_tz(db, "America/New_York") is False
