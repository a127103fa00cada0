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


def connect(path, readonly=False):
    """A sqlite-utils Database on `path`, set up for one writer and many readers."""
    if readonly:
        conn = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(path), uri=True,
                               timeout=10, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoint, never corrupt
    conn.execute("PRAGMA foreign_keys=ON")
    return sqlite_utils.Database(conn)


def _load_all_migrations():
    # Importing a module registers its migrations; the order here is the order they apply.
    from hub import schema  # noqa: F401


def migrate(db):
    """Apply every migration not yet applied. Returns the names applied."""
    _load_all_migrations()
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied INTEGER)")
    done = {r[0] for r in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db.conn:
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, int(time.time())])
        applied.append(name)
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
