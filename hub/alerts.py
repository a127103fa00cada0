"""Alerts: a kiosk offline beyond a threshold; the mood index of the city or a district
dropping by more than a threshold between the last window and the one before.

Alerts are evaluated when someone looks (the Alerts page, its JSON twin, and the overview's
count), so no extra process is needed: a condition that starts opens an alert, one that ends
closes it (kept as a past alert), staff acknowledge open ones. Thresholds are settings
(settings table, admin-editable on the Alerts page).
"""
import time

from flask import Blueprint, g, jsonify, redirect, request, url_for

from hub import queries
from hub.api import bp as api
from hub.auth import login_required
from hub.db import get_db
from hub.filters import today
from hub.i18n import _
from hub.rollups import city_tz

bp = Blueprint("alerts", __name__)
DEFAULTS = {"alert_offline_minutes": 30, "alert_mood_drop": 10, "alert_mood_window_days": 7,
            "alert_mood_min_count": 20}


def thresholds(db):
    out = dict(DEFAULTS)
    for k, v in db.execute("SELECT key, value FROM settings WHERE key LIKE 'alert_%'"):
        if k in out:
            out[k] = int(v)
    return out


def _mood_drops(db, t, now):
    w = t["alert_mood_window_days"]
    end = today(city_tz(db), now)
    rows = db.execute(
        "SELECT scope, day > ?, value, sum(n) FROM agg_day WHERE kind = 'mood' AND "
        "(scope = '*' OR (scope >= 'd:' AND scope < 'd;')) AND day BETWEEN ? AND ? "
        "GROUP BY 1, 2, 3", [end - w, end - 2 * w + 1, end]).fetchall()
    by = {}
    for scope, recent, value, n in rows:
        by.setdefault(scope, ({}, {}))[recent][str(value)] = n
    out = {}
    for scope, (before, recent) in by.items():
        if min(sum(before.values()), sum(recent.values())) < t["alert_mood_min_count"]:
            continue
        a, b = queries.mood_index(before), queries.mood_index(recent)
        if a - b > t["alert_mood_drop"]:
            out[scope] = (a, b)
    return out


def evaluate(db, now=None):
    """Open alerts for conditions that started, close those that ended. -> open count."""
    now = int(now or time.time())
    t = thresholds(db)
    cutoff = now - 60 * t["alert_offline_minutes"]
    offline = {k: ls for k, ls in db.execute(
        "SELECT id, last_seen FROM kiosks WHERE online = 0 AND last_seen IS NOT NULL "
        "AND last_seen < ?", [cutoff])}
    drops = _mood_drops(db, t, now)
    open_ = {(k, s): i for i, k, s in db.execute(
        "SELECT id, kind, subject FROM alerts WHERE closed IS NULL")}
    with db.conn:
        for kiosk, last_seen in offline.items():
            if ("offline", kiosk) not in open_:
                db.execute("INSERT INTO alerts (kind, subject, message, opened) VALUES "
                           "('offline', ?, ?, ?)", [kiosk, "offline since %d" % last_seen, now])
        for scope, (a, b) in drops.items():
            if ("mood-drop", scope) not in open_:
                db.execute("INSERT INTO alerts (kind, subject, message, opened) VALUES "
                           "('mood-drop', ?, ?, ?)",
                           [scope, "mood index %.1f -> %.1f over %d days"
                            % (a, b, t["alert_mood_window_days"]), now])
        for (kind, subject), i in open_.items():
            if (kind == "offline" and subject not in offline) or \
                    (kind == "mood-drop" and subject not in drops):
                db.execute("UPDATE alerts SET closed = ? WHERE id = ?", [now, i])
    return db.execute("SELECT count(*) FROM alerts WHERE closed IS NULL").fetchone()[0]


def listing(db):
    evaluate(db)
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
    with db.conn:
        return db.execute("UPDATE alerts SET acked = ?, acked_by = ? WHERE id = ? AND acked IS NULL",
                          [int(time.time()), who, alert_id]).rowcount


@bp.post("/alerts/settings")
@login_required("admin")
def settings():
    db = get_db()
    with db.conn:
        for k in DEFAULTS:
            v = request.form.get(k, "")
            if v.isdigit() and 0 < int(v) < 100000:
                db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", [k, v])
    return redirect(url_for("alerts.alerts"))


@api.get("/alerts")
def alerts_json():
    return jsonify(listing(get_db()))


@api.post("/alerts/<int:alert_id>/ack")
def alerts_ack_json(alert_id):
    if not _ack(get_db(), alert_id, g.user["name"]):
        return jsonify(error="no such unacknowledged alert"), 404
    return jsonify(ok=True)
