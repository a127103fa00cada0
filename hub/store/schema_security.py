"""Migrations for staff access hardening (issue 14; names "sec-NNN-...").

- users rebuilt with AUTOINCREMENT, so an id is never handed out twice (a deleted user's old
  session can never name a new user), and a session_version: a session holds (id, version), and
  raising the version (logout, password change, role change) ends every session of that user.
  Sessions made before this migration hold no version and so end too.
- tokens get an expiry (NULL: never; set at creation in the admin page or the CLI).
- audit: who did what among the admin actions (users, tokens, question pushes, kiosks).
- login_failures: the counters of hub/web/throttle.py, per account and per client address.
"""


def sec_staff_access(db):
    db.executescript("""
    CREATE TABLE users_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        created INTEGER NOT NULL,
        session_version INTEGER NOT NULL DEFAULT 1
    );
    INSERT INTO users_new (id, name, password_hash, role, created)
        SELECT id, name, password_hash, role, created FROM users;
    DROP TABLE users;
    ALTER TABLE users_new RENAME TO users;

    ALTER TABLE tokens ADD COLUMN expires INTEGER;

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT
    );

    -- key: 'user:<name>' or 'addr:<client address>'; failures since the last success.
    CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last REAL NOT NULL
    ) WITHOUT ROWID;
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("sec-001-staff-access", sec_staff_access),
]
