"""Schema changes as migrations: each a named function applied once, in order, and recorded in
`_migrations`, so an old database upgrades itself on the next start (sqlite-utils style).

MIGRATIONS is the one list of them, in the order they apply; never rename or reorder one that
shipped, only append. Each schema module lists its own, for the tables its part of the hub owns.
"""
import sqlite3
import time

from hub.store import (schema_alerts, schema_core, schema_firmware, schema_ingest,
                       schema_offers, schema_opendata, schema_provision, schema_security,
                       schema_web)

MIGRATIONS = (schema_core.MIGRATIONS + schema_ingest.MIGRATIONS + schema_web.MIGRATIONS
              + schema_provision.MIGRATIONS + schema_alerts.MIGRATIONS
              + schema_opendata.MIGRATIONS + schema_security.MIGRATIONS
              + schema_offers.MIGRATIONS + schema_firmware.MIGRATIONS + schema_web.LATER
              + schema_firmware.LATER
              + schema_provision.LATER)


class _InTransaction:
    """The Database a migration sees. Its executescript runs the script statement by statement
    inside the migration's transaction: sqlite3's own executescript would COMMIT first, and a
    crash half-way would leave a migration applied but not recorded."""

    def __init__(self, db):
        self._db = db

    def __getattr__(self, name):
        return getattr(self._db, name)

    def executescript(self, sql):
        stmt = ""
        for piece in sql.split(";"):
            stmt += piece + ";"
            # A ';' inside a string or trigger body does not end the statement: ask SQLite.
            if sqlite3.complete_statement(stmt):
                if stmt.strip(" \t\r\n;"):
                    self._db.conn.execute(stmt)
                stmt = ""


def migrate(db, migrations=None):
    """Apply every migration not yet applied, each in its own transaction. Returns their names.

    BEGIN IMMEDIATE takes SQLite's write lock before looking at what is applied, so hubs or
    ingest workers starting together on one database apply each migration exactly once."""
    conn = db.conn
    saved, conn.isolation_level = conn.isolation_level, None  # we issue BEGIN/COMMIT ourselves
    applied = []
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied INTEGER)")
        for name, fn in (MIGRATIONS if migrations is None else migrations):
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                    conn.execute("COMMIT")
                    continue
                fn(_InTransaction(db))
                conn.execute("INSERT INTO _migrations VALUES (?, ?)", [name, int(time.time())])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(name)
    finally:
        conn.isolation_level = saved
    return applied
