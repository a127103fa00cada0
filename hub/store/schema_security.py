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


def sec_known_values(db):
    db.executescript("""
    -- Every skill category and question id the hub has ever put in a kiosk's config, kept by
    -- triggers on kiosk_configs (whoever writes a config), so a tap queued offline under an
    -- older config still counts, and a kiosk cannot invent a category or a question
    -- (hub/ingest/known.py). The triggers avoid conflicts rather than use OR IGNORE: inside a
    -- trigger fired by an upsert (INSERT ... ON CONFLICT DO UPDATE), OR IGNORE does not hold.
    CREATE TABLE config_skills (skill TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE config_questions (question TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT OR IGNORE INTO config_skills SELECT j.value FROM kiosk_configs c,
        json_each(c.payload, '$.skills') j WHERE json_valid(c.payload) AND j.type = 'text';
    INSERT OR IGNORE INTO config_questions SELECT json_extract(payload, '$.question.id')
        FROM kiosk_configs WHERE json_valid(payload)
        AND json_type(payload, '$.question.id') = 'text';
    CREATE TRIGGER config_known_insert AFTER INSERT ON kiosk_configs
        WHEN json_valid(NEW.payload) BEGIN
        INSERT INTO config_skills SELECT DISTINCT value FROM json_each(NEW.payload, '$.skills')
            WHERE type = 'text' AND value NOT IN (SELECT skill FROM config_skills);
        INSERT INTO config_questions SELECT json_extract(NEW.payload, '$.question.id')
            WHERE json_type(NEW.payload, '$.question.id') = 'text' AND json_extract(
                NEW.payload, '$.question.id') NOT IN (SELECT question FROM config_questions);
    END;
    CREATE TRIGGER config_known_update AFTER UPDATE OF payload ON kiosk_configs
        WHEN json_valid(NEW.payload) BEGIN
        INSERT INTO config_skills SELECT DISTINCT value FROM json_each(NEW.payload, '$.skills')
            WHERE type = 'text' AND value NOT IN (SELECT skill FROM config_skills);
        INSERT INTO config_questions SELECT json_extract(NEW.payload, '$.question.id')
            WHERE json_type(NEW.payload, '$.question.id') = 'text' AND json_extract(
                NEW.payload, '$.question.id') NOT IN (SELECT question FROM config_questions);
    END;
    -- A status dated far ahead froze its kiosk's row (later heartbeats looked older): forget
    -- such a time, so the next heartbeat counts again.
    UPDATE kiosks SET status_ts = NULL WHERE status_ts > CAST(strftime('%s', 'now') AS INTEGER)
        + 86400;
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("sec-001-staff-access", sec_staff_access),
    ("sec-002-known-values", sec_known_values),
]
