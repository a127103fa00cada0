"""Migrations for what the alert service (hub/alerts/) owns (names "alerts-NNN-...").

The alerts table itself came with web-002 (hub/store/schema_web.py); this adds what an alert
needs to be told to people: its facts as JSON (so each reader gets the message in their own
language and time zone) and an outbox of deliveries that survives a restart of the hub.
"""


def alert_delivery(db):
    db.executescript("""
    -- The facts behind alerts.message, e.g. {"since": 1796047473} for 'offline' or
    -- {"before": 71.2, "after": 55.0, "days": 7} for 'mood-drop'.
    ALTER TABLE alerts ADD COLUMN detail TEXT;

    -- One row per alert event (opened or closed) and channel ('webhook' or 'email'); the alert
    -- service delivers due rows, retrying with back-off until delivered or given up.
    CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY,
        alert INTEGER NOT NULL,
        event TEXT NOT NULL CHECK (event IN ('opened', 'closed')),
        channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
        created INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try INTEGER NOT NULL,
        delivered INTEGER,
        gave_up INTEGER,
        last_error TEXT,
        UNIQUE (alert, event, channel)
    );
    CREATE INDEX alert_outbox_due ON alert_outbox (next_try) WHERE delivered IS NULL
        AND gave_up IS NULL;
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("alerts-001-delivery", alert_delivery),
]
