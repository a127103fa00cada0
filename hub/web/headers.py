"""Security headers on every answer, and the request checks that come before any page.

- Content-Security-Policy: scripts, styles, images and forms from this site only, no inline
  script or style (the templates carry none; tests/test_security_web.py checks), and no
  framing (frame-ancestors 'none', and X-Frame-Options DENY for older browsers).
- Referrer-Policy no-referrer: a staff URL with its filters never leaks to another site, and
  the open pages tell nobody where their visitors came from.
- Query parameters whose name starts with "_" are refused (400): they are Flask's url_for
  options (?_method=POST made every page with a JSON-twin link a 500), never ours.
- A number too large for SQLite (an <int:...> route given 20 digits) is a 400, not a 500.
"""
from flask import abort, request
from werkzeug.exceptions import BadRequest

from hub.web.i18n import _

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


def _refuse_reserved_params():
    for name in request.args:
        if name.startswith("_"):
            abort(400, description=_("Unknown parameter: %(name)s", name=name[:40]))


def _headers(resp):
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Content-Type-Options", "nosniff")
    return resp


def _too_large(e):
    raise BadRequest(description=_("Not a valid id."))


def init_app(app):
    app.before_request(_refuse_reserved_params)
    app.register_error_handler(OverflowError, _too_large)
    app.after_request(_headers)
