"""The hub's core tables, as a migration (hub/store/migrations.py applies them). Later tables
are added by the migrations in schema_ingest.py, schema_web.py and schema_provision.py here.

Outside contract (docs/API.md, "Database"): taps(kiosk, seq, ts, kind, value, q, ...) one row per (kiosk, seq);
rejects(..., reason, ...) one row per refused message.
"""


def core_initial(db):
    db.executescript("""
    -- One row per tap, identity (kiosk, seq). `value` has no declared type on purpose: a mood
    -- value stays the integer 1..4 and a skill value the category id string.
    -- ts: the press time; when the kiosk sent null, the receive time with ts_estimated = 1.
    CREATE TABLE taps (
        kiosk TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value NOT NULL,
        q TEXT,
        ts_estimated INTEGER NOT NULL DEFAULT 0,
        boot INTEGER,
        received INTEGER NOT NULL,
        PRIMARY KEY (kiosk, seq)
    ) WITHOUT ROWID;
    CREATE INDEX taps_ts ON taps (ts);

    CREATE TABLE rejects (
        id INTEGER PRIMARY KEY,
        received INTEGER NOT NULL,
        topic TEXT,
        kiosk TEXT,
        reason TEXT NOT NULL,
        payload BLOB
    );

    CREATE TABLE kiosks (
        id TEXT PRIMARY KEY,
        district TEXT,
        place TEXT,
        lat REAL,
        lon REAL,
        first_seen INTEGER,
        last_seen INTEGER,
        online INTEGER NOT NULL DEFAULT 0,
        fw TEXT,
        boot INTEGER,
        uptime INTEGER,
        queue INTEGER,
        mem_free INTEGER,
        rssi INTEGER,
        config_rev INTEGER,
        filtered INTEGER,
        status_ts INTEGER
    );

    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        created INTEGER NOT NULL
    );

    -- API tokens are stored hashed; the token itself is shown once, at creation.
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        label TEXT,
        created INTEGER NOT NULL,
        last_used INTEGER
    );

    -- Missing seq ranges per kiosk (sent by the kiosk, never arrived), kept by hub/store/gaps.py:
    -- a range is added when a seq jumps past max+1 and shrinks or splits when a late tap fills it.
    CREATE TABLE seq_gaps (
        kiosk TEXT NOT NULL,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL,
        PRIMARY KEY (kiosk, first)
    );

    -- Hourly counts per kiosk, kind, value and question, written by hub/store/rollups.py in the same
    -- transaction as the taps, so dashboards never scan raw taps. q is '' when the tap had none.
    CREATE TABLE rollup_hourly (
        hour INTEGER NOT NULL,
        kiosk TEXT NOT NULL,
        kind TEXT NOT NULL,
        value NOT NULL,
        q TEXT NOT NULL DEFAULT '',
        n INTEGER NOT NULL,
        PRIMARY KEY (hour, kiosk, kind, value, q)
    ) WITHOUT ROWID;

    -- The config the hub wants each kiosk to have (retained on civic/v1/<kiosk>/config).
    -- The web side writes a row with published NULL; the ingest (hub/ingest/configs.py) publishes it
    -- retained at QoS 1 and sets published. rev only grows per kiosk.
    CREATE TABLE kiosk_configs (
        kiosk TEXT PRIMARY KEY,
        rev INTEGER NOT NULL,
        payload TEXT NOT NULL,
        updated INTEGER NOT NULL,
        published INTEGER
    );

    -- Small hub-wide settings, e.g. the session secret, so logins survive a restart.
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("core-001-initial", core_initial),
]
