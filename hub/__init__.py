"""The civic hub: MQTT ingest, SQLite, dashboard, JSON API and open data.

create_app(test_config=None) builds the Flask app (Flask tutorial style); each part registers
itself through init_app(app) or a blueprint.
"""
import os
import secrets

from flask import Flask

__version__ = "0.1.0"


def _secret_key(db_path):
    """A per-hub session secret kept in the database, so staff stay logged in across restarts."""
    from hub.db import open_db
    db = open_db(db_path)
    try:
        row = db.execute("SELECT value FROM settings WHERE key='secret_key'").fetchone()
        if row:
            return row[0]
        key = secrets.token_hex(32)
        with db.conn:
            db.execute("INSERT OR IGNORE INTO settings VALUES ('secret_key', ?)", [key])
        return db.execute("SELECT value FROM settings WHERE key='secret_key'").fetchone()[0]
    finally:
        db.conn.close()


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE=os.environ.get("CIVIC_DB", "civic.db"),
        # Public numbers: every count below this is suppressed in open data.
        OPEN_DATA_MIN_COUNT=5,
        # The ingest running in this process, if any (civic serve sets it); /healthz reads it.
        INGEST=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.config["DATABASE"])

    from hub import db
    db.init_app(app)
    from hub import web
    web.init_app(app)
    return app
