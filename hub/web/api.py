"""The JSON API under /api/v1 (documented in docs/API.md and /api/v1/openapi.json).

Every route needs a staff session or `Authorization: Bearer TOKEN` (401 JSON otherwise),
except /api/v1/open/... which is public (hub/web/opendata.py). Bad parameters: 400 + message.

The routes live with the page they belong to: each page module collects its JSON twin in its
own `twins = Twins()`, and blueprint() builds the one API blueprint from all of them, in the
order hub/web/__init__.py passes them. So nothing depends on which module was imported first,
and every app gets a fresh blueprint.
"""
from flask import Blueprint, g, jsonify, request

from hub.web.filters import BadParam, parse


class Twins:
    """The API routes of one module, recorded at import and added to each app's blueprint."""

    def __init__(self):
        self.routes = []   # [(rule, view function, methods)]

    def route(self, rule, methods):
        def record(fn):
            self.routes.append((rule, fn, methods))
            return fn
        return record

    def get(self, rule):
        return self.route(rule, ["GET"])

    def post(self, rule):
        return self.route(rule, ["POST"])


def need_staff():
    # docs/API.md: everything under /api/v1 is staff-only except the open data.
    if request.path.startswith("/api/v1/open/"):
        return None
    if g.get("user") is None:
        resp = jsonify(error="authentication required: log in or send "
                             "'Authorization: Bearer TOKEN'")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="civic"'
        return resp
    return None


def bad_param(e):
    return jsonify(error=str(e)), 400


def filters(allowed=None):
    """The request's filters (hub/web/filters.py); BadParam becomes a 400 with its message."""
    return parse(request.args, allowed) if allowed else parse(request.args)


def blueprint(*modules_twins):
    """The API blueprint ("api", /api/v1) with the routes of every Twins given."""
    bp = Blueprint("api", __name__, url_prefix="/api/v1")
    bp.before_request(need_staff)
    bp.register_error_handler(BadParam, bad_param)
    for twins in modules_twins:
        for rule, fn, methods in twins.routes:
            bp.add_url_rule(rule, fn.__name__, fn, methods=methods)
    return bp
