"""The Alerts page (GET /alerts) and its JSON twin (GET /api/v1/alerts): open and past alerts
as the hub's background loop keeps them (hub/alerts/), acknowledging, and the thresholds.
"""
import time

from flask import Blueprint, g, jsonify, redirect, request, url_for

from hub.alerts.rules import DEFAULTS, thresholds
from hub.store.connection import transaction
from hub.web.api import Twins
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _

bp = Blueprint("alerts", __name__)
twins = Twins()


def listing(db):
    cols = ("id", "kind", "subject", "message", "opened", "closed", "acked", "acked_by")
    rows = [dict(zip(cols, r)) for r in db.execute(
        "SELECT %s FROM alerts ORDER BY opened DESC, id DESC LIMIT 500" % ", ".join(cols))]
    for r in rows:
        r["subject_label"] = ("city" if r["subject"] == "*" else r["subject"][2:]
                              if r["subject"].startswith("d:") else r["subject"])
    return {"open": [r for r in rows if r["closed"] is None],
            "past": [r for r in rows if r["closed"] is not None],
            "thresholds": thresholds(db)}


@bp.get("/alerts")
@login_required()
def alerts():
    from flask import render_template
    return render_template("alerts.html", data=listing(get_db()), title=_("Alerts"),
                           twin=url_for("api.alerts_json"))


@bp.post("/alerts/<int:alert_id>/ack")
@login_required()
def ack(alert_id):
    _ack(get_db(), alert_id, g.user["name"])
    return redirect(url_for("alerts.alerts"))


def _ack(db, alert_id, who):
    if not 0 < alert_id < 2 ** 62:
        return 0
    with transaction(db.conn):
        return db.execute("UPDATE alerts SET acked = ?, acked_by = ? WHERE id = ? AND acked IS NULL",
                          [int(time.time()), who, alert_id]).rowcount


@bp.post("/alerts/settings")
@login_required("admin")
def settings():
    db = get_db()
    with transaction(db.conn):
        for k in DEFAULTS:
            v = request.form.get(k, "")
            if v.isdigit() and 0 < int(v) < 100000:
                db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", [k, v])
    return redirect(url_for("alerts.alerts"))


@twins.get("/alerts")
def alerts_json():
    return jsonify(listing(get_db()))


@twins.post("/alerts/<int:alert_id>/ack")
def alerts_ack_json(alert_id):
    if not _ack(get_db(), alert_id, g.user["name"]):
        return jsonify(error="no such unacknowledged alert"), 404
    return jsonify(ok=True)
