"""Migrations for what the kiosks' firmware reports beyond protocol v1's first status (names
"firmware-NNN-..."): presses refused, damaged records, the last crash, clock sync, and what the
alerts need to tell a crash loop and a queue that only grows (hub/alerts/rules.py)."""


def kiosk_firmware_status(db):
    db.executescript("""
    -- From the latest status: presses turned away because the queue was full (since the
    -- kiosk's boot), damaged records skipped at load, the tail of the last crash's traceback
    -- (kept until a newer one), whether the kiosk's clock has synced.
    ALTER TABLE kiosks ADD COLUMN refused INTEGER;
    ALTER TABLE kiosks ADD COLUMN damaged INTEGER;
    ALTER TABLE kiosks ADD COLUMN crash TEXT;
    ALTER TABLE kiosks ADD COLUMN synced INTEGER;
    -- When `refused` last went up (hub receive time), and since when the queue has not gone
    -- down while non-empty (NULL: it is empty or went down at the last status).
    ALTER TABLE kiosks ADD COLUMN refused_at INTEGER;
    ALTER TABLE kiosks ADD COLUMN queue_stuck_since INTEGER;
    -- When the kiosk's boot counter last went backwards (hub receive time): its flash was
    -- formatted (rp2's _boot.py formats it when littlefs does not mount), queue included.
    ALTER TABLE kiosks ADD COLUMN flash_reset_at INTEGER;
    -- One row per boot of a kiosk as the hub heard of it; crashed = its status reported the
    -- crash that ended the boot before it (the firmware reports each crash once).
    CREATE TABLE kiosk_boots (
        kiosk TEXT NOT NULL,
        boot INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        crashed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kiosk, boot)
    );
    CREATE INDEX kiosk_boots_ts ON kiosk_boots (ts);
    """)


def firmware_updates(db):
    db.executescript("""
    -- Releases made by `civic firmware release` (hub/updates/releases.py): the manifest is the
    -- offer without its per-kiosk n and mac (JSON), the files are the compiled app folder.
    CREATE TABLE fw_releases (
        version TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        mpy TEXT NOT NULL,
        min_mp TEXT NOT NULL,
        manifest TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        notes TEXT
    );
    CREATE TABLE fw_release_files (
        version TEXT NOT NULL REFERENCES fw_releases (version),
        idx INTEGER NOT NULL,          -- the file's index in the manifest (a fetch's `f`)
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (version, idx),
        UNIQUE (version, path)
    );
    -- Each kiosk's update key: 32 random bytes (hex) that MAC its offers; made at provisioning
    -- (or by `civic kiosk update-key ID`), written into the kiosk's settings by
    -- `civic kiosk flash`, never sent over MQTT (hub/updates/update_keys.py).
    -- seen_n: the highest offer number the kiosk reported, when above any the hub holds (a
    -- database restored from an older backup): the next offer's n goes above it.
    CREATE TABLE kiosk_update_keys (
        kiosk TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        created INTEGER NOT NULL,
        seen_n INTEGER
    );
    -- One row per offer of a release to a kiosk (hub/updates/rollouts.py). n strictly increases
    -- per kiosk; the row with the highest n is the kiosk's current offer. state: offered (by
    -- the hub), then what the kiosk reports (downloading, verified, switched, confirmed,
    -- rolled_back, failed), or superseded by a newer offer. crash: the crash line that rolled
    -- a trial back. pub_due/pub_gen: the ingest's publisher must (re)publish the retained
    -- offer, or withdraw it once the update ended (hub/ingest/fw_offers.py); published: when
    -- the broker last acknowledged that.
    CREATE TABLE fw_offers (
        kiosk TEXT NOT NULL,
        n INTEGER NOT NULL,
        version TEXT NOT NULL REFERENCES fw_releases (version),
        state TEXT NOT NULL,
        reason TEXT,
        done INTEGER,
        total INTEGER,
        crash TEXT,
        offered_at INTEGER NOT NULL,
        offered_by TEXT,
        updated_at INTEGER NOT NULL,
        pub_due INTEGER NOT NULL DEFAULT 1,
        pub_gen INTEGER NOT NULL DEFAULT 1,
        published INTEGER,
        PRIMARY KEY (kiosk, n)
    );
    CREATE INDEX fw_offers_due ON fw_offers (kiosk) WHERE pub_due = 1;
    CREATE INDEX fw_offers_version ON fw_offers (version, state);
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("firmware-001-kiosk-status", kiosk_firmware_status),
]

# Added after the migrations of later modules had shipped: hub/store/migrations.py lists these
# at the end, so the order that shipped stays.
LATER = [
    ("firmware-002-updates", firmware_updates),
]
