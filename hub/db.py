"""The hub's SQLite database: connections and schema migrations.

One file, WAL mode, so the single ingest writer and the many page readers never block each
other. Schema changes are migrations: each is a named function applied once, in order, and
recorded in `_migrations`, so an old database upgrades itself on the next start.
Modules that own tables register their migrations here with @migration (see MIGRATIONS order).
"""
import os
import sqlite3
import time

import sqlite_utils
from flask import current_app, g

MIGRATIONS = []  # [(name, fn)], applied in this order; never rename or reorder one that shipped


def migration(name):
    def register(fn):
        if any(n == name for n, _ in MIGRATIONS):
            raise ValueError("duplicate migration " + name)
        MIGRATIONS.append((name, fn))
        return fn
    return register


class DatabaseUnavailable(sqlite3.OperationalError):
    """The database file cannot be opened or written; str() says where and what to do."""


def connect(path, readonly=False):
    """A sqlite-utils Database on `path`, set up for one writer and many readers."""
    try:
        return _connect(path, readonly)
    except sqlite3.OperationalError as e:
        if not any(w in str(e) for w in ("unable to open", "readonly", "disk I/O")):
            raise  # e.g. locked: not a question of the path
        raise DatabaseUnavailable(
            "cannot %s the database %s (%s): check that its folder exists and that this user "
            "may write there, or choose another with --db or $CIVIC_DB"
            % ("read" if readonly else "open", os.path.abspath(path), e)) from e


def _connect(path, readonly):
    if readonly:
        conn = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(path), uri=True,
                               timeout=10, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        _wal(conn)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoint, never corrupt
    conn.execute("PRAGMA foreign_keys=ON")
    return sqlite_utils.Database(conn)


def _wal(conn, wait_s=30):
    """WAL mode (a property of the file, set once). Switching needs an exclusive lock that
    SQLite does not wait for, so when several hub processes create a new database at the same
    moment, all but one get "database is locked" here: they try again for up to wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _load_all_migrations():
    # Importing a module registers its migrations; the order here is the order they apply.
    from hub import schema  # noqa: F401


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


def migrate(db):
    """Apply every migration not yet applied, each in its own transaction. Returns their names.

    BEGIN IMMEDIATE takes SQLite's write lock before looking at what is applied, so hubs or
    ingest workers starting together on one database apply each migration exactly once."""
    _load_all_migrations()
    conn = db.conn
    saved, conn.isolation_level = conn.isolation_level, None  # we issue BEGIN/COMMIT ourselves
    applied = []
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied INTEGER)")
        for name, fn in MIGRATIONS:
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


def open_db(path):
    """Open (creating and migrating if needed) the database at path for writing."""
    db = connect(path)
    migrate(db)
    return db


def get_db():
    """The request's database connection (Flask tutorial style), closed at teardown."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(e=None):
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app):
    app.teardown_appcontext(close_db)
    open_db(app.config["DATABASE"]).conn.close()
