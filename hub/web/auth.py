"""Staff access: accounts with hashed passwords, sessions, API tokens, roles and CSRF.

Roles: 'viewer' reads everything staff may see; 'admin' also changes things (kiosks,
districts, questions, users, alerts settings). Pages use a login session; scripts use
`Authorization: Bearer TOKEN` (tokens are stored as SHA-256 hashes, shown once).
Every form carries a CSRF token bound to the session; POSTs without it are refused (400).

A session holds the user's id and session version (users.session_version): logout, a password
change, a role change and deletion raise or remove it, which ends every session of that user
at once; ids are never reused (AUTOINCREMENT, hub/store/schema_security.py). Logins are
throttled per account and per client address (hub/web/throttle.py). Tokens may expire.
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
from hub.web import throttle
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.token_usage import record_token_use

bp = Blueprint("auth", __name__)
ROLES = ("viewer", "admin")
MIN_PASSWORD = 8


def _check_role(role):
    if role not in ROLES:
        raise ValueError("role must be one of %s" % ", ".join(ROLES))


def _check_password(password):
    if len(password or "") < MIN_PASSWORD:
        raise ValueError("password must be at least %d characters" % MIN_PASSWORD)
    if len(password) > 1024:
        raise ValueError("password must be at most 1024 characters")


def _create_user(db, name, password, role):
    _check_role(role)
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError("user name must be 1 to 64 characters")
    _check_password(password)
    if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise ValueError("user %r already exists" % name)
    db.execute("INSERT INTO users (name, password_hash, role, created) VALUES (?, ?, ?, ?)",
               [name, generate_password_hash(password), role, int(time.time())])


def add_user(db, name, password, role):
    """Add a staff account (CLI: civic user add). ValueError with a message when refused.
    db: an open Database (joins its transaction) or a path."""
    with using(db) as d, transaction(d.conn):
        _create_user(d, name, password, role)


def end_sessions(db, uid):
    """Every session of this user ends (the caller commits)."""
    db.execute("UPDATE users SET session_version = session_version + 1 WHERE id = ?", [uid])


def set_password(db, uid, password):
    """A new password; every session of the user ends (the caller commits). ValueError."""
    _check_password(password)
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
               [generate_password_hash(password), uid])
    end_sessions(db, uid)


def set_role(db, uid, role):
    _check_role(role)
    db.execute("UPDATE users SET role = ? WHERE id = ?", [role, uid])
    end_sessions(db, uid)


def _hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db, role, label=None, days=None):
    """Create an API token; returns the token string (only its hash is stored).
    days: it expires that many days from now (None: never).
    db: an open Database (joins its transaction) or a path."""
    _check_role(role)
    if days is not None and not (isinstance(days, int) and 0 < days <= 3650):
        raise ValueError("days must be a whole number from 1 to 3650")
    token = "civic_" + secrets.token_urlsafe(32)
    now = int(time.time())
    with using(db) as d, transaction(d.conn):
        d.execute("INSERT INTO tokens (token_hash, role, label, created, expires) "
                  "VALUES (?, ?, ?, ?, ?)", [_hash_token(token), role, label, now,
                                             now + days * 86400 if days else None])
    return token


def _bearer_role():
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    db = get_db()
    h = _hash_token(header[7:].strip())
    row = db.execute("SELECT id, role FROM tokens WHERE token_hash = ? AND "
                     "(expires IS NULL OR expires > ?)", [h, int(time.time())]).fetchone()
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
        row = get_db().execute("SELECT name, role, session_version FROM users WHERE id = ?",
                               [uid]).fetchone() if type(uid) is int else None
        if row and session.get("sv") == row[2]:
            g.user = {"id": uid, "name": row[0], "role": row[1], "via": "session"}
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
    # Only a path on this site: "//host" and "/\\host" would leave it, and so would "/\t/host"
    # (browsers drop tabs and newlines from URLs); control characters would break the header.
    if target and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target and all(32 < ord(c) < 127 for c in target):
        return target.rstrip("?")
    return url_for("overview.page")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        name = (request.form.get("username") or request.form.get("name", ""))[:64]
        password = request.form.get("password", "")[:1024]
        db, addr = get_db(), request.remote_addr
        known = throttle.known_device(current_app, request.cookies.get(throttle.DEVICE_COOKIE),
                                      name)
        wait = throttle.retry_after(db, name, addr, known)
        if wait:
            with transaction(db.conn):
                throttle.failed(db, None, addr)  # a guesser's address stays locked longer
            secs = int(wait) + 1
            error = _("Too many failed logins. Try again in %(n)s seconds.", n=secs)
            return render_template("login.html", error=error), 429, {"Retry-After": str(secs)}
        row = db.execute("SELECT id, password_hash, session_version FROM users WHERE name = ?",
                         [name]).fetchone()
        # Hash even for an unknown name, so the answer time does not tell which names exist.
        ok = check_password_hash(row[1] if row else _dummy_hash(), password) and row
        with transaction(db.conn):
            (throttle.succeeded if ok else throttle.failed)(db, name, addr)
        if ok:
            session.clear()
            session["uid"], session["sv"] = row[0], row[2]
            session.permanent = True
            csrf_token()
            resp = redirect(_safe_next(request.args.get("next")))
            resp.set_cookie(throttle.DEVICE_COOKIE, throttle.device_cookie(current_app, name),
                            max_age=throttle.DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
            return resp
        error = _("Wrong name or password.")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    if g.user and g.user["via"] == "session":
        db = get_db()
        with transaction(db.conn):
            end_sessions(db, g.user["id"])  # every browser of this user, not only this one
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app):
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(bp)
