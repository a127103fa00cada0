"""Migrations for the tables that the web side owns (names "web-NNN-...").

The dashboard never scans raw taps: hub/store/rollups.py keeps these aggregates in the same
transaction as the taps (see there for the scopes '*', 'd:<district>', 'k:<kiosk>').
"""


def web_aggregates(db):
    db.executescript("""
    -- Daily counts in the city's time zone. scope: '*' (whole city), 'd:<district>' or
    -- 'k:<kiosk>'; day: days since 1970-01-01 of the local date; q '' when none.
    CREATE TABLE agg_day (
        scope TEXT NOT NULL,
        day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value NOT NULL,
        q TEXT NOT NULL DEFAULT '',
        n INTEGER NOT NULL,
        PRIMARY KEY (scope, day, kind, value, q)
    ) WITHOUT ROWID;

    -- Counts per local day and hour of the week (how = weekday*24 + hour, Monday = 0) for the
    -- heatmap; scope '*', 'd:<district>' or 'q:<question>'. Skill taps are kept with
    -- value '' (participation).
    CREATE TABLE agg_how (
        scope TEXT NOT NULL,
        day INTEGER NOT NULL,
        how INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (scope, day, how, kind, value)
    ) WITHOUT ROWID;

    -- A kiosk's own hours, for its heatmap and for moving its history to a new district.
    CREATE INDEX rollup_hourly_kiosk ON rollup_hourly (kiosk, hour);
    -- A question's hours, for its heatmap (only mood rows carry a question).
    CREATE INDEX rollup_hourly_q ON rollup_hourly (q, hour) WHERE q != '';
    """)


def web_staff_data(db):
    db.executescript("""
    -- Populations the city gives, for participation per 1,000 residents.
    CREATE TABLE districts (
        name TEXT PRIMARY KEY,
        population INTEGER
    );

    -- Questions staff write; pushed to kiosks through kiosk_configs.
    CREATE TABLE questions (
        id TEXT PRIMARY KEY,
        text_en TEXT NOT NULL,
        text_nl TEXT,
        created INTEGER NOT NULL,
        created_by TEXT
    );

    -- Which kiosks a question was pushed to, with the config rev that carries it, so the
    -- Questions page can show who applied it (kiosks.config_rev >= rev).
    CREATE TABLE question_pushes (
        question TEXT NOT NULL,
        kiosk TEXT NOT NULL,
        rev INTEGER NOT NULL,
        pushed INTEGER NOT NULL,
        PRIMARY KEY (question, kiosk)
    );

    -- Alerts: kind 'offline' (subject = kiosk) or 'mood-drop' (subject = scope).
    -- Open while closed IS NULL; staff acknowledge; closed when the condition ends.
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        message TEXT NOT NULL,
        opened INTEGER NOT NULL,
        closed INTEGER,
        acked INTEGER,
        acked_by TEXT
    );
    CREATE INDEX alerts_open ON alerts (closed, kind, subject);
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("web-001-aggregates", web_aggregates),
    ("web-002-staff-data", web_staff_data),
]


def question_applied(db):
    db.executescript("""
    -- When each kiosk applied a question pushed to it (its status reported a config_rev at
    -- least the push's rev), kept by hub/store/registry.py; the Questions page shows it.
    ALTER TABLE question_pushes ADD COLUMN applied INTEGER;
    UPDATE question_pushes SET applied = pushed WHERE rev <= (SELECT coalesce(config_rev, -1)
        FROM kiosks WHERE kiosks.id = question_pushes.kiosk);
    CREATE INDEX question_pushes_waiting ON question_pushes (kiosk, rev) WHERE applied IS NULL;
    """)


# Added after the migrations of later modules had shipped: hub/store/migrations.py lists these
# at the end, so the order that shipped stays.
LATER = [
    ("web-003-question-applied", question_applied),
]
