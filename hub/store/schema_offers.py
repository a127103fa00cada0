"""Migrations for help offers, their outcomes and the districts' boundaries
(names "offers-NNN-..."; hub/offers/ and hub/geo/ own these tables).
"""


def offers_and_map(db):
    db.executescript("""
    -- Where citizens get help with one skill category: for one district, or the whole city
    -- (district NULL). Kiosks show it after a press of that skill (hub/offers/offers.py puts
    -- it into their configs). text_en/text_nl: the short text a kiosk shows, per language.
    CREATE TABLE offers (
        id INTEGER PRIMARY KEY,
        skill TEXT NOT NULL,
        district TEXT,
        place TEXT,
        times TEXT,
        contact TEXT,
        text_en TEXT,
        text_nl TEXT,
        created INTEGER NOT NULL,
        created_by TEXT,
        removed INTEGER
    );
    CREATE INDEX offers_skill ON offers (skill, district) WHERE removed IS NULL;

    -- Outcomes: how many people came to an offer in a month (an aggregate count, no person).
    CREATE TABLE offer_attendance (
        offer INTEGER NOT NULL REFERENCES offers (id),
        month TEXT NOT NULL,          -- YYYY-MM
        people INTEGER NOT NULL CHECK (people >= 0),
        recorded INTEGER NOT NULL,
        PRIMARY KEY (offer, month)
    ) WITHOUT ROWID;

    -- District boundaries for the dashboard's map: a GeoJSON Polygon or MultiPolygon geometry
    -- per district (`civic districts import`), already checked.
    CREATE TABLE district_shapes (
        name TEXT PRIMARY KEY,
        geometry TEXT NOT NULL,
        imported INTEGER NOT NULL
    );
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("offers-001-offers-and-map", offers_and_map),
]
