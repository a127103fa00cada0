"""Migrations for the tables that the ingest (hub/ingest/) owns (names "ingest-NNN-...")."""


def kiosk_events(db):
    db.executescript("""
    -- A kiosk's online/offline history, one row per transition as the hub learned it from the
    -- retained status (cause 'status') or the broker-sent last will ('will'); the first status
    -- ever heard from a kiosk is a transition too. kiosks.online is the latest state; this is how
    -- it got there. ts is the hub's receive time (Unix seconds).
    CREATE TABLE kiosk_events (
        id INTEGER PRIMARY KEY,
        kiosk TEXT NOT NULL,
        ts INTEGER NOT NULL,
        online INTEGER NOT NULL,
        cause TEXT NOT NULL
    );
    CREATE INDEX kiosk_events_kiosk_ts ON kiosk_events (kiosk, ts);
    """)


def drop_taps_ts(db):
    # The ts index cost the writer about a fifth of its insert time (bench/ingest), and its one
    # reader, the date-filtered export (/api/v1/export.csv, .json), is faster without it: it is in
    # (kiosk, seq) order, so a scan of the primary key streams it with no sort. Measured on 2M
    # taps: one day 0.09 s against 0.01 s, 30 days 0.15 s against 0.19 s, everything 1.6 s
    # against 4.6 s (docs/BENCHMARKS.md; bench/dashboard times the export).
    db.execute("DROP INDEX IF EXISTS taps_ts")


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("ingest-001-kiosk-events", kiosk_events),
    ("ingest-002-drop-taps-ts", drop_taps_ts),
]
