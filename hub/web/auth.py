"""Staff access: accounts with hashed passwords, sessions, API tokens, roles and CSRF.

Roles: 'viewer' reads everything staff may see; 'admin' also changes things (kiosks,
districts, questions, users, alerts settings). Pages use a login session; scripts use
`Authorization: Bearer TOKEN` (tokens are stored as SHA-256 hashes, shown once).
Every form carries a CSRF token bound to the session; POSTs without it are refused (400).
"""
import functools
import hashlib
import hmac
import secrets
import time

from flask import (Blueprint, abort, current_app, g, jsonify, redirect, render_template,
                   request, session, url_for)
from werkzeug.security import check_password_hash, generate_password_hash

from hub.store.connection import transaction, using
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.token_usage import record_token_use

bp = Blueprint("auth", __name__)
ROLES = ("viewer", "admin")
MIN_PASSWORD = 8


def _check_role(role):
    if role not in ROLES:
        raise ValueError("role must be one of %s" % ", ".join(ROLES))


def _create_user(db, name, password, role):
    _check_role(role)
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError("user name must be 1 to 64 characters")
    if len(password or "") < MIN_PASSWORD:
        raise ValueError("password must be at least %d characters" % MIN_PASSWORD)
    if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise ValueError("user %r already exists" % name)
    db.execute("INSERT INTO users (name, password_hash, role, created) VALUES (?, ?, ?, ?)",
               [name, generate_password_hash(password), role, int(time.time())])


def add_user(db, name, password, role):
    """Add a staff account (CLI: civic user add). ValueError with a message when refused.
    db: an open Database (joins its transaction) or a path."""
    with using(db) as d, transaction(d.conn):
        _create_user(d, name, password, role)


def _hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db, role, label=None):
    """Create an API token; returns the token string (only its hash is stored).
    db: an open Database (joins its transaction) or a path."""
    _check_role(role)
    token = "civic_" + secrets.token_urlsafe(32)
    with using(db) as d, transaction(d.conn):
        d.execute("INSERT INTO tokens (token_hash, role, label, created) VALUES (?, ?, ?, ?)",
                  [_hash_token(token), role, label, int(time.time())])
    return token


def _bearer_role():
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    db = get_db()
    h = _hash_token(header[7:].strip())
    row = db.execute("SELECT id, role FROM tokens WHERE token_hash = ?", [h]).fetchone()
    if not row:
        return None
    record_token_use(row[0])  # written later, in a batch: a GET never writes
    return row[1]


@bp.before_app_request
def load_staff():
    """g.user: {'name', 'role', 'via'} from the session or a Bearer token, else None."""
    g.user = None
    uid = session.get("uid")
    if uid is not None:
        row = get_db().execute("SELECT name, role FROM users WHERE id = ?", [uid]).fetchone()
        if row:
            g.user = {"name": row[0], "role": row[1], "via": "session"}
        else:
            session.clear()
    if g.user is None:
        role = _bearer_role()
        if role:
            g.user = {"name": "token", "role": role, "via": "token"}
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        _check_csrf()


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _check_csrf():
    # A token request carries no cookie, so it cannot be forged cross-site.
    if g.user and g.user["via"] == "token":
        return
    if g.user is None and request.path.startswith("/api/"):
        return  # the API answers 401 first (hub/web/api.py)
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        if request.path.startswith("/api/"):
            resp = jsonify(error="missing or wrong CSRF token")
            resp.status_code = 400
            abort(resp)
        abort(400, description=_("The form expired or was not sent from this site. "
                                 "Please try again."))


def login_required(role="viewer"):
    """Page decorator: a staff session (or token) with at least `role`."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*a, **kw):
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if role == "admin" and g.user["role"] != "admin":
                abort(403)
            return view(*a, **kw)
        return inner
    return wrap


@functools.lru_cache(maxsize=1)
def _dummy_hash():
    return generate_password_hash(secrets.token_hex(16))


def _safe_next(target):
    # Only a path on this site: "//host" and "/\\host" would leave it.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target.rstrip("?")
    return url_for("overview.page")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        name = request.form.get("username") or request.form.get("name", "")
        password = request.form.get("password", "")
        row = get_db().execute("SELECT id, password_hash FROM users WHERE name = ?",
                               [name]).fetchone()
        # Hash even for an unknown name, so the answer time does not tell which names exist.
        if check_password_hash(row[1] if row else _dummy_hash(), password) and row:
            session.clear()
            session["uid"] = row[0]
            session.permanent = True
            csrf_token()
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong name or password.")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app):
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(bp)
