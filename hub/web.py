"""Registers the web parts: health, staff access, JSON API, dashboard pages, open data."""
from flask import current_app


def init_app(app):
    import os
    from hub import (admin, alerts, api, auth, charts, dashboard, health, i18n, opendata,
                     pages, questions)
    # Secure cookies for https deployments (CIVIC_SECURE_COOKIES=1 or SESSION_COOKIE_SECURE).
    if "SESSION_COOKIE_SECURE" not in app.config or not app.config["SESSION_COOKIE_SECURE"]:
        app.config["SESSION_COOKIE_SECURE"] = os.environ.get("CIVIC_SECURE_COOKIES") == "1"
    app.config.setdefault("CITY_TZ", os.environ.get("CIVIC_TZ"))
    i18n.init_app(app)
    auth.init_app(app)
    app.register_blueprint(health.bp)
    from hub import metrics; app.register_blueprint(metrics.bp)  # ingest's /metrics
    app.register_blueprint(opendata.bp)
    app.register_blueprint(dashboard.bp)
    for part in (pages, questions, alerts, admin):
        app.register_blueprint(part.bp)
    # Last: the page modules and hub.openapi add their JSON twins to the API blueprint first.
    from hub import openapi  # noqa: F401
    app.register_blueprint(api.bp)
    app.jinja_env.globals["charts"] = charts
    app.jinja_env.globals["has_page"] = lambda ep: ep in current_app.view_functions
    app.jinja_env.filters["zip"] = lambda a, b: list(zip(a, b))
    app.jinja_env.filters["datetime"] = _datetime
    app.jinja_env.filters["tr_keys"] = lambda pairs: [(i18n._(str(k)), v) for k, v in pairs]
    for code in (400, 403, 404, 405):
        app.register_error_handler(code, _errors)
    _apply_city_tz(app)


def _errors(e):
    """Under /api/ every error is JSON, like the rest of the API; pages get a translated page."""
    from flask import jsonify, render_template, request
    from hub.i18n import _
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
    from hub.db import open_db
    from hub.rollups import set_city_tz
    db = open_db(app.config["DATABASE"])
    try:
        set_city_tz(db, name)
    finally:
        db.conn.close()


def _datetime(ts):
    """Unix seconds -> 'YYYY-MM-DD HH:MM' in the city's time zone (or '–')."""
    if ts is None:
        return "–"
    import datetime
    import zoneinfo
    from flask import g
    from hub.db import get_db
    from hub.rollups import city_tz
    if "city_zone" not in g:  # once per request, not once per table row
        g.city_zone = zoneinfo.ZoneInfo(city_tz(get_db()))
    t = datetime.datetime.fromtimestamp(ts, g.city_zone)
    return t.strftime("%Y-%m-%d %H:%M")
