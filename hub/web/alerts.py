"""The Alerts page (GET /alerts) and its JSON twin (GET /api/v1/alerts): open and past alerts
as the hub's background loop keeps them (hub/alerts/), acknowledging, and the thresholds.
"""
import time

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from hub.alerts import messages
from hub.alerts import settings as alert_settings
from hub.store.connection import transaction
from hub.store.rollups import city_tz
from hub.web.api import Twins
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _, current_lang

bp = Blueprint("alerts", __name__)
twins = Twins()


def listing(db, lang="en"):
    cols = ("id", "kind", "subject", "message", "detail", "opened", "closed", "acked",
            "acked_by")
    rows = [dict(zip(cols, r)) for r in db.execute(
        "SELECT %s FROM alerts ORDER BY opened DESC, id DESC LIMIT 500" % ", ".join(cols))]
    tz = city_tz(db)
    for r in rows:
        r["subject_label"] = messages.subject_label(r, lang)
        r["text"] = messages.describe(r, lang, tz)   # in the reader's language and zone
        r.pop("detail")
    cfg = alert_settings.read(db)
    return {"open": [r for r in rows if r["closed"] is None],
            "past": [r for r in rows if r["closed"] is not None],
            "thresholds": {k: cfg[k] for k in alert_settings.NUMBERS},
            "delivery": {"webhook": cfg["alert_webhook"] or None,
                         "smtp": cfg["alert_smtp"] or None, "email": cfg["alert_email"] or None,
                         "language": cfg["alert_language"]},
            "timezone": tz}


@bp.get("/alerts")
@login_required()
def alerts():
    db = get_db()
    secret = None
    if g.user["role"] == "admin":
        secret = alert_settings.read(db)["alert_webhook_secret"] or None
    return render_template("alerts.html", data=listing(db, current_lang()), title=_("Alerts"),
                           twin=url_for("api.alerts_json"), secret=secret,
                           error=request.args.get("error"))


@bp.post("/alerts/<int:alert_id>/ack")
@login_required()
def ack(alert_id):
    _ack(get_db(), alert_id, g.user["name"])
    return redirect(url_for("alerts.alerts"))


def _ack(db, alert_id, who):
    if not 0 < alert_id < 2 ** 62:
        return 0
    with transaction(db.conn):
        return db.execute("UPDATE alerts SET acked = ?, acked_by = ? WHERE id = ? "
                          "AND acked IS NULL", [int(time.time()), who, alert_id]).rowcount


@bp.post("/alerts/settings")
@login_required("admin")
def settings():
    """Thresholds and delivery: whatever fields the form sent, checked as the CLI checks them."""
    changes = {k: request.form[k] for k in alert_settings.DEFAULTS
               if k in request.form and k != "alert_webhook_secret"}
    try:
        alert_settings.update(get_db(), changes,
                              rotate_secret=request.form.get("rotate_secret") == "1")
    except ValueError as e:
        return redirect(url_for("alerts.alerts", error=str(e)))
    return redirect(url_for("alerts.alerts"))


@twins.get("/alerts")
def alerts_json():
    return jsonify(listing(get_db(), current_lang()))


@twins.post("/alerts/<int:alert_id>/ack")
def alerts_ack_json(alert_id):
    if not _ack(get_db(), alert_id, g.user["name"]):
        return jsonify(error="no such unacknowledged alert"), 404
    return jsonify(ok=True)
