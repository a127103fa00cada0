"""The request's database connection (Flask tutorial style): one per request, opened on first
use and closed at teardown. The rule it follows is in hub/store/__init__.py."""
from flask import current_app, g

from hub.store.connection import connect, open_db


def get_db():
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(e=None):
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app):
    app.teardown_appcontext(close_db)
    open_db(app.config["DATABASE"]).conn.close()  # create and migrate before the first request
