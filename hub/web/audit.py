"""The audit log of admin actions: who created, removed or changed which user, created or
revoked which token, pushed which question to which kiosks, changed which kiosk or district.

record() joins the caller's transaction (the action and its audit row commit together).
Admins read it at /admin/audit and as JSON at /api/v1/audit (newest first, ?limit= up to 1000).
"""
import json
import time

from flask import Blueprint, g, jsonify, render_template, request

from hub.web.api import Twins
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _

bp = Blueprint("audit", __name__, url_prefix="/admin")
twins = Twins()


def record(db, action, **detail):
    """One audit row for the current staff member (the caller commits)."""
    user = g.get("user") or {}
    actor = user.get("name") if user.get("via") == "session" else "token"
    db.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
               [int(time.time()), actor or "?", action, json.dumps(detail, sort_keys=True)])


def entries(db, limit=200):
    return [{"id": i, "ts": ts, "actor": a, "action": act, "detail": d}
            for i, ts, a, act, d in db.execute(
                "SELECT id, ts, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?",
                [limit])]


def _limit():
    v = request.args.get("limit", "200")
    if not v.isdigit() or not 0 < int(v) <= 1000:
        return None
    return int(v)


@bp.get("/audit")
@login_required("admin")
def page():
    limit = _limit()
    if limit is None:
        return render_template("error.html", title=_("Something is not right"),
                               message=_("limit: a whole number from 1 to 1000")), 400
    return render_template("admin_audit.html", title=_("Audit log"),
                           entries=entries(get_db(), limit))


@twins.get("/audit")
def audit_json():
    if g.user["role"] != "admin":
        return jsonify(error="admin role needed"), 403
    limit = _limit()
    if limit is None:
        return jsonify(error="limit: a whole number from 1 to 1000"), 400
    return jsonify(entries(get_db(), limit))
