"""The hub's web side: staff pages, their JSON twins under /api/v1, open data and monitoring.

init_app(app) puts it together: the request database (db.py), languages (i18n.py), staff access
(auth.py), then one blueprint per page module, and last the API blueprint built from every
module's JSON twins (api.py). Each page module holds its page's queries, its HTML view and its
JSON twin together: overview.py, districts.py, skills.py, kiosk_health.py, heatmap.py, questions.py,
alerts.py, admin.py, offers.py, firmware.py, opendata.py.
"""
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import current_app, jsonify, render_template, request

from hub.alerts.rules import open_count
from hub.store.connection import open_db
from hub.store.rollups import set_city_tz
from hub.web import (account, admin, alerts, api, audit, auth, charts, db, districts, exports,
                     firmware, formatting, headers, health, heatmap, i18n, kiosk_health, maps,
                     offers, openapi, opendata, overview, questions, skills, token_usage)
from hub.web.db import get_db
from hub.web.i18n import _

# The page modules, in menu order; each has a blueprint `bp` and its JSON twins `twins`.
PAGES = (overview, districts, skills, kiosk_health, heatmap, questions, alerts, admin,
         offers, firmware)


def init_app(app):
    # Secure cookies for https deployments (CIVIC_SECURE_COOKIES=1 or SESSION_COOKIE_SECURE).
    if "SESSION_COOKIE_SECURE" not in app.config or not app.config["SESSION_COOKIE_SECURE"]:
        app.config["SESSION_COOKIE_SECURE"] = os.environ.get("CIVIC_SECURE_COOKIES") == "1"
    app.config.setdefault("CITY_TZ", os.environ.get("CIVIC_TZ"))
    db.init_app(app)
    i18n.init_app(app)
    formatting.init_app(app)
    auth.init_app(app)
    headers.init_app(app)
    token_usage.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(opendata.bp)
    for page in PAGES:
        app.register_blueprint(page.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(api.blueprint(*[p.twins for p in PAGES], audit.twins, exports.twins,
                                         openapi.twins))
    app.jinja_env.globals["charts"] = charts
    app.jinja_env.globals["maps"] = maps
    app.jinja_env.globals["dict"] = dict
    app.jinja_env.globals["update_state"] = firmware.state_label
    app.jinja_env.globals["has_page"] = lambda ep: ep in current_app.view_functions
    app.jinja_env.globals["open_alerts"] = lambda: open_count(get_db())
    app.jinja_env.globals["query"] = query
    app.jinja_env.globals["with_format"] = with_format
    app.jinja_env.filters["zip"] = lambda a, b: list(zip(a, b))
    for code in (400, 403, 404, 405):
        app.register_error_handler(code, _errors)
    _apply_city_tz(app)


def _errors(e):
    """Under /api/ every error is JSON, like the rest of the API; pages get a translated page."""
    if request.path.startswith("/api/"):
        resp = jsonify(error=e.description)
        resp.status_code = e.code
        for name in ("Allow",):  # a 405 must still say which methods are allowed
            if e.get_response().headers.get(name):
                resp.headers[name] = e.get_response().headers[name]
        return resp
    messages = {400: _("The request was not understood."),
                403: _("Your account may not do this; ask an admin."),
                404: _("There is no such page."),
                405: _("This page cannot be used that way.")}
    # Our own descriptions (e.g. the CSRF refusal) are already translated; werkzeug's are not.
    custom = e.description != type(e).description
    message = e.description if custom else messages[e.code]
    return render_template("error.html", message=message, title=_("Something is not right")), \
        e.code


def _apply_city_tz(app):
    """CITY_TZ in the config (or $CIVIC_TZ) becomes the stored setting; a change rebuilds
    the local-time aggregates once."""
    name = app.config.get("CITY_TZ")
    if not name:
        return
    db = open_db(app.config["DATABASE"])
    try:
        set_city_tz(db, name)
    finally:
        db.conn.close()


def query(**changes):
    """This request's query string with changes (None drops a key): a pager link, or the
    language switch, keeps every filter the page was opened with."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    args += [(k, v) for k, v in changes.items() if v is not None]
    return urlencode(args)


def with_format(url, fmt):
    """A JSON twin's URL asking for another format (?format=csv)."""
    parts = urlsplit(url)
    args = [(k, v) for k, v in parse_qsl(parts.query) if k != "format"] + [("format", fmt)]
    return urlunsplit(parts._replace(query=urlencode(args)))
