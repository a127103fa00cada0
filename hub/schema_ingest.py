"""Migrations for the tables that hub/ingest.py owns (names "ingest-NNN-...")."""
from hub.db import migration


@migration("ingest-001-kiosk-events")
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
