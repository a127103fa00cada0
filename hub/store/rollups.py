"""Aggregates that the dashboard reads instead of raw taps.

apply(db, taps) is called by hub/store/taps.py inside the transaction that inserts the taps,
with only the taps that were new (never duplicates), so the aggregates always equal the taps.

Tables (hub/store/schema_core.py, hub/store/schema_web.py):
- rollup_hourly: per UTC hour, kiosk, kind, value, question (the fine grain, kept for rebuilds).
- agg_day: per local day in the city's time zone, for three scopes at once: '*' (the city),
  'd:<district>' (the kiosk's district when the tap arrived; '' if none) and 'k:<kiosk>'.
  A two-year overview then reads a few thousand rows instead of millions.
- agg_how: per local day and hour of the week, scopes '*', 'd:<district>' and 'q:<question>',
  for the heatmap.
The city's time zone is the setting 'city_tz' (settings table); changing it needs rebuild().
"""
import collections
import datetime
import zoneinfo

HOUR = 3600
DEFAULT_TZ = "Europe/Amsterdam"
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
# The scopes of every district in agg_day / agg_how, as an SQL condition ('d:' < 'd:x' < 'd;').
DISTRICT_SCOPES = "scope >= 'd:' AND scope < 'd;'"
_hour_cache = {}  # (tz name, utc hour start) -> (local day number, hour of week)


def empty_moods():
    """Mood counts by value with every value present: what charts and tables expect."""
    return {"1": 0, "2": 0, "3": 0, "4": 0}


def mood_index(by_value):
    """Mean mood mapped linearly from 1..4 to 0..100; None when there are no mood taps."""
    count = sum(by_value.values())
    if not count:
        return None
    mean = sum(int(v) * n for v, n in by_value.items()) / count
    return round((mean - 1) * 100 / 3, 1)


def city_tz(db):
    row = db.execute("SELECT value FROM settings WHERE key = 'city_tz'").fetchone()
    return row[0] if row and row[0] else DEFAULT_TZ


def set_city_tz(db, name):
    """Store the city's time zone and recompute the local-time aggregates if it changed."""
    zoneinfo.ZoneInfo(name)  # raises for an unknown zone
    if city_tz(db) == name and db.execute(
            "SELECT 1 FROM settings WHERE key = 'city_tz'").fetchone():
        return False
    with db.conn:
        db.execute("INSERT INTO settings (key, value) VALUES ('city_tz', ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [name])
        rebuild(db)
    return True


def local_hour(tzname, hour):
    """UTC hour start -> (local day number, weekday*24 + local hour)."""
    key = (tzname, hour)
    hit = _hour_cache.get(key)
    if hit is None:
        if len(_hour_cache) > 200000:
            _hour_cache.clear()
        t = datetime.datetime.fromtimestamp(hour, zoneinfo.ZoneInfo(tzname))
        hit = (t.date().toordinal() - EPOCH_ORDINAL, t.weekday() * 24 + t.hour)
        _hour_cache[key] = hit
    return hit


def _districts(db, kiosks):
    kiosks = list(kiosks)
    out = {}
    for i in range(0, len(kiosks), 500):
        part = kiosks[i:i + 500]
        rows = db.execute("SELECT id, district FROM kiosks WHERE id IN (%s)"
                          % ",".join("?" * len(part)), part).fetchall()
        out.update({k: d or "" for k, d in rows})
    return out


def apply(db, rows):
    """rows: taps rows (kiosk, seq, ts, kind, value, q, ...) that were just inserted (new ones
    only)."""
    # Counter counts in C; the generator only builds each tap's key.
    hourly = collections.Counter((r[2] - r[2] % HOUR, r[0], r[3], r[4], r[5] or "")
                                 for r in rows)
    if not hourly:
        return
    tzname = city_tz(db)
    district = _districts(db, {k[1] for k in hourly})
    day, how = {}, {}
    for (hour, kiosk, kind, value, q), n in hourly.items():
        d, h = local_hour(tzname, hour)
        dist = "d:" + district.get(kiosk, "")
        for scope in ("*", dist, "k:" + kiosk):
            key = (scope, d, kind, value, q)
            day[key] = day.get(key, 0) + n
        hv = value if kind == "mood" else ""
        for scope in ("*", dist) + (("q:" + q,) if q else ()):
            key = (scope, d, h, kind, hv)
            how[key] = how.get(key, 0) + n
    ex = db.conn.executemany
    ex("INSERT INTO rollup_hourly (hour, kiosk, kind, value, q, n) VALUES (?, ?, ?, ?, ?, ?) "
       "ON CONFLICT (hour, kiosk, kind, value, q) DO UPDATE SET n = n + excluded.n",
       [k + (n,) for k, n in hourly.items()])
    ex("INSERT INTO agg_day (scope, day, kind, value, q, n) VALUES (?, ?, ?, ?, ?, ?) "
       "ON CONFLICT (scope, day, kind, value, q) DO UPDATE SET n = n + excluded.n",
       [k + (n,) for k, n in day.items()])
    ex("INSERT INTO agg_how (scope, day, how, kind, value, n) VALUES (?, ?, ?, ?, ?, ?) "
       "ON CONFLICT (scope, day, how, kind, value) DO UPDATE SET n = n + excluded.n",
       [k + (n,) for k, n in how.items()])


def _hour_map(db, where="", args=()):
    """A temp table hourmap(hour, day, how) for every hour in rollup_hourly (or a subset)."""
    tzname = city_tz(db)
    db.execute("DROP TABLE IF EXISTS temp.hourmap")
    db.execute("CREATE TEMP TABLE hourmap (hour INTEGER PRIMARY KEY, day INTEGER, how INTEGER)")
    hours = [r[0] for r in db.execute(
        "SELECT DISTINCT hour FROM rollup_hourly " + where, args).fetchall()]
    db.conn.executemany("INSERT INTO temp.hourmap VALUES (?, ?, ?)",
                        [(h,) + local_hour(tzname, h) for h in hours])


def rebuild(db):
    """Recompute every aggregate from the taps (after a bulk load or a schema change), pruned
    taps included."""
    db.execute("DELETE FROM rollup_hourly")
    # The taps, and the counts of the taps that retention pruned (hub/store/retention.py).
    db.execute("INSERT INTO rollup_hourly (hour, kiosk, kind, value, q, n) "
               "SELECT h, kiosk, kind, value, q, sum(n) FROM ("
               "SELECT ts - ts % 3600 AS h, kiosk, kind, value, coalesce(q, '') AS q, "
               "count(*) AS n FROM taps GROUP BY 1, 2, 3, 4, 5 UNION ALL "
               "SELECT hour, kiosk, kind, value, q, n FROM rollup_pruned) GROUP BY 1, 2, 3, 4, 5")
    db.execute("DELETE FROM agg_day")
    db.execute("DELETE FROM agg_how")
    _hour_map(db)
    db.execute("INSERT INTO agg_day SELECT 'k:' || r.kiosk, m.day, r.kind, r.value, r.q, sum(r.n) "
               "FROM rollup_hourly r JOIN temp.hourmap m USING (hour) GROUP BY 1, 2, 3, 4, 5")
    _derive_from_kiosks(db)
    db.execute("DROP TABLE temp.hourmap")


def _derive_from_kiosks(db):
    # District and city rows from the kiosk rows, each kiosk under its current district.
    db.execute("INSERT INTO agg_day SELECT 'd:' || coalesce(k.district, ''), a.day, a.kind, "
               "a.value, a.q, sum(a.n) FROM agg_day a LEFT JOIN kiosks k "
               "ON k.id = substr(a.scope, 3) WHERE a.scope LIKE 'k:%' GROUP BY 1, 2, 3, 4, 5")
    db.execute("INSERT INTO agg_day SELECT '*', day, kind, value, q, sum(n) FROM agg_day "
               "WHERE scope LIKE 'd:%' GROUP BY 2, 3, 4, 5")
    db.execute("INSERT INTO agg_how SELECT 'd:' || coalesce(k.district, ''), m.day, m.how, "
               "r.kind, CASE WHEN r.kind = 'mood' THEN r.value ELSE '' END, sum(r.n) "
               "FROM rollup_hourly r JOIN temp.hourmap m USING (hour) "
               "LEFT JOIN kiosks k ON k.id = r.kiosk GROUP BY 1, 2, 3, 4, 5")
    db.execute("INSERT INTO agg_how SELECT '*', day, how, kind, value, sum(n) FROM agg_how "
               "WHERE scope LIKE 'd:%' GROUP BY 2, 3, 4, 5")
    db.execute("INSERT INTO agg_how SELECT 'q:' || r.q, m.day, m.how, r.kind, r.value, sum(r.n) "
               "FROM rollup_hourly r JOIN temp.hourmap m USING (hour) WHERE r.q != '' "
               "GROUP BY 1, 2, 3, 4, 5")


def move_kiosk(db, kiosk, old_district, new_district):
    """A kiosk moved district: move its whole history between the district scopes.
    Call inside the transaction that changes kiosks.district."""
    old, new = "d:" + (old_district or ""), "d:" + (new_district or "")
    if old == new:
        return
    rows = db.execute("SELECT day, kind, value, q, n FROM agg_day WHERE scope = ?",
                      ["k:" + kiosk]).fetchall()
    _shift(db, "agg_day", "day, kind, value, q", old, new, rows)
    _hour_map(db, "WHERE kiosk = ?", [kiosk])
    rows = db.execute(
        "SELECT m.day, m.how, r.kind, CASE WHEN r.kind = 'mood' THEN r.value ELSE '' END, "
        "sum(r.n) FROM rollup_hourly r JOIN temp.hourmap m USING (hour) WHERE r.kiosk = ? "
        "GROUP BY 1, 2, 3, 4", [kiosk]).fetchall()
    db.execute("DROP TABLE temp.hourmap")
    _shift(db, "agg_how", "day, how, kind, value", old, new, rows)


def _shift(db, table, cols, old, new, rows):
    ncols = len(cols.split(","))
    marks = ", ".join("?" * (ncols + 2))
    conflict = "ON CONFLICT DO UPDATE SET n = n + excluded.n"
    db.conn.executemany("INSERT INTO %s (scope, %s, n) VALUES (%s) %s" % (table, cols, marks,
                        conflict), [(old,) + tuple(r[:-1]) + (-r[-1],) for r in rows])
    db.conn.executemany("INSERT INTO %s (scope, %s, n) VALUES (%s) %s" % (table, cols, marks,
                        conflict), [(new,) + tuple(r[:-1]) + (r[-1],) for r in rows])
    db.execute("DELETE FROM %s WHERE scope = ? AND n = 0" % table, [old])
