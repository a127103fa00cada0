"""Opening the hub's SQLite database, and the one way to run a write transaction.

One file in WAL mode, so the single ingest writer and the many page readers never block each
other. open_db() migrates (hub/store/migrations.py) before handing the connection out; connect()
does not, for readers that know the schema is current. See hub/store/__init__.py for who opens
connections and who owns transactions.

The file holds the session secret, password and token hashes: a new database is created 0600
(SQLite gives its -wal and -shm files the database file's mode), and exposure_warnings() tells
`civic serve` when an existing one, or its folder, is open to other local accounts.
"""
import contextlib
import os
import sqlite3
import time

import sqlite_utils

from hub.store.migrations import migrate


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
        _create_private(path)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        _wal(conn)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoint, never corrupt
    conn.execute("PRAGMA foreign_keys=ON")
    return sqlite_utils.Database(conn)


def _create_private(path):
    """Create the database file 0600 (and its folder 0700 when we make it), whatever the
    umask: only this account may read the hub's secrets."""
    if path == ":memory:" or os.path.exists(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return  # sqlite3 reports it (DatabaseUnavailable names the folder)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass  # another process created it at the same moment


def exposure_warnings(path):
    """Warnings for a database (or its -wal/-shm files) that other local accounts can read or
    write, or whose folder others can write to. [] when it is private."""
    out = []
    for p in (path, path + "-wal", path + "-shm"):
        try:
            mode = os.stat(p).st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            out.append("%s is readable by other local accounts (mode %03o): it holds the session "
                       "secret and password hashes; run chmod 600 %s" % (p, mode, p))
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if os.stat(folder).st_mode & 0o022:
            out.append("%s can be written by other local accounts: they could replace the "
                       "database; make it 0700 or 0755" % folder)
    except OSError:
        pass
    return out


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


def open_db(path):
    """Open (creating and migrating if needed) the database at path for writing."""
    db = connect(path)
    migrate(db)
    return db


@contextlib.contextmanager
def using(db):
    """The caller's open Database as it is, or (for a command or a test that has only a path)
    the database at that path, opened here and closed at the end."""
    if not isinstance(db, (str, os.PathLike)):
        yield db
        return
    own = open_db(os.fspath(db))
    try:
        yield own
    finally:
        own.conn.close()



@contextlib.contextmanager
def transaction(conn):
    """BEGIN IMMEDIATE ... COMMIT, or join the caller's open transaction (then the caller
    commits or rolls back). IMMEDIATE takes the write lock at the start, so two writers queue
    behind each other instead of failing half-way with "database is locked"."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
