"""Aggregates that the dashboard reads instead of raw taps.

apply(db, taps) is called by hub/ingest.py inside the transaction that inserts the taps, with
only the taps that were new (never duplicates), so the aggregates always equal the taps.
"""

HOUR = 3600


def apply(db, taps):
    """taps: iterable of dicts with kiosk, ts, kind, value, q (new rows only)."""
    counts = {}
    for t in taps:
        key = (t["ts"] - t["ts"] % HOUR, t["kiosk"], t["kind"], t["value"], t["q"] or "")
        counts[key] = counts.get(key, 0) + 1
    if counts:
        db.conn.executemany(
            "INSERT INTO rollup_hourly (hour, kiosk, kind, value, q, n) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (hour, kiosk, kind, value, q) DO UPDATE SET n = n + excluded.n",
            [k + (n,) for k, n in counts.items()])


def rebuild(db):
    """Recompute every aggregate from the taps (after a bulk load or a schema change)."""
    db.execute("DELETE FROM rollup_hourly")
    db.execute("INSERT INTO rollup_hourly (hour, kiosk, kind, value, q, n) "
               "SELECT ts - ts % 3600, kiosk, kind, value, coalesce(q, ''), count(*) "
               "FROM taps GROUP BY 1, 2, 3, 4, 5")
