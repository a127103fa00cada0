"""The civic hub: MQTT ingest, SQLite, dashboard, JSON API and open data.

create_app(test_config=None) builds the Flask app (Flask tutorial style); the web side
registers its parts in hub/web/__init__.py. The hub's parts, one folder each (docs/ARCHITECTURE.md):
  common/       structured log lines and the received-message type, shared by all
  ingest/       MQTT in, validation at the edge, the one writer, configs out, metrics
  store/        the SQLite database: connections, migrations, taps, rollups, gaps, registry,
                retention
  web/          staff pages with their JSON twins, the API, auth, i18n, charts, open data
  opendata/     what is published and its protection (docs/OPEN_DATA.md), DCAT-AP, NGSI-LD
  alerts/       alert rules and the background loop that applies them
  fleet/        kiosk provisioning and the broker's configuration
  kiosk_tools/  firmware build, flashing a board, the kiosk simulator
  demo/         `civic demo`, its embedded broker, and the seeder
and cli.py, the `civic` command over all of them.
"""
import os
import secrets

__version__ = "0.1.0"


def _secret_key(db_path):
    """A per-hub session secret kept in the database, so staff stay logged in across restarts."""
    from hub.store.connection import open_db, transaction
    db = open_db(db_path)
    try:
        with transaction(db.conn):
            db.execute("INSERT OR IGNORE INTO settings VALUES ('secret_key', ?)",
                       [secrets.token_hex(32)])
        return db.execute("SELECT value FROM settings WHERE key='secret_key'").fetchone()[0]
    finally:
        db.conn.close()


def create_app(test_config=None):
    # Imported here, not at the top: every `import hub.<part>` runs this file first, and the
    # ingest's processes and the kiosk tools should not load Flask and the web side for it.
    from flask import Flask

    from hub import web
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.from_mapping(
        DATABASE=os.environ.get("CIVIC_DB", "civic.db"),
        # Open data: every public count is rounded to a multiple of this (docs/OPEN_DATA.md);
        # the setting 'open_data_min_count' overrides it.
        OPEN_DATA_MIN_COUNT=int(os.environ.get("CIVIC_OPEN_DATA_MIN_COUNT") or 5),
        # The ingest running in this process, if any (civic serve sets it); /healthz reads it.
        INGEST=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.config["DATABASE"])
    web.init_app(app)
    return app
