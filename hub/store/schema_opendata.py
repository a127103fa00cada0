"""Migrations for open data and retention (names "opendata-NNN-...").

- The cell key: a random secret per hub (settings 'open_data_key') that decides, for each
  published cell, how it is rounded (hub/opendata/grid.py). Made here, once, so that a GET,
  which never writes, always finds it.
- What pruning keeps (hub/store/retention.py): pruned_seqs, the highest seq pruned per kiosk,
  so a redelivered pruned tap is still a duplicate; rollup_pruned, the hourly counts of the
  pruned taps, so rollups.rebuild() still counts them.
"""
import secrets


def cell_key(db):
    db.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('open_data_key', ?)",
               [secrets.token_hex(32)])


def retention(db):
    db.executescript("""
    CREATE TABLE pruned_seqs (
        kiosk TEXT PRIMARY KEY,
        max_seq INTEGER NOT NULL
    );
    CREATE TABLE rollup_pruned (
        hour INTEGER NOT NULL,
        kiosk TEXT NOT NULL,
        kind TEXT NOT NULL,
        value NOT NULL,
        q TEXT NOT NULL DEFAULT '',
        n INTEGER NOT NULL,
        PRIMARY KEY (hour, kiosk, kind, value, q)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS rejects_received ON rejects (received);
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("opendata-001-cell-key", cell_key),
    ("opendata-002-retention", retention),
]
