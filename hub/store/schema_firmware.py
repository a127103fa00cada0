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


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("firmware-001-kiosk-status", kiosk_firmware_status),
]
