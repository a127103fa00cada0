"""A staff member's own account: change the password (any role, logged in with a session).

A new password ends every other session of the account (hub/web/auth.py, set_password); the
browser that changed it stays logged in with the new session version. Changing it needs the
current password, so a session left open on a shared screen cannot lock its owner out.
"""
from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

from hub.store.connection import transaction
from hub.web import audit, auth
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(error=None, done=False, status=200):
    return render_template("account.html", title=_("Your account"), error=error,
                           done=done), status


@bp.get("/password")
@login_required()
def password_form():
    if g.user["via"] != "session":
        abort(403)
    return _page(done=request.args.get("done") == "1")


@bp.post("/password")
@login_required()
def password_change():
    if g.user["via"] != "session":
        abort(403)
    db = get_db()
    row = db.execute("SELECT password_hash FROM users WHERE id = ?", [g.user["id"]]).fetchone()
    current = request.form.get("current", "")[:1024]
    if not row or not check_password_hash(row[0], current):
        return _page(_("The current password is wrong."), status=400)
    try:
        with transaction(db.conn):
            auth.set_password(db, g.user["id"], request.form.get("new"))
            audit.record(db, "password-change", user=g.user["name"])
            sv = db.execute("SELECT session_version FROM users WHERE id = ?",
                            [g.user["id"]]).fetchone()[0]
    except ValueError as e:
        return _page(str(e), status=400)
    session["sv"] = sv  # this browser stays in; every other session has ended
    return redirect(url_for("account.password_form", done=1))
