"""Alert rules: a kiosk offline beyond a threshold; the mood index of the city or a district
dropping by more than a threshold between the last window and the one before.

evaluate() opens an alert for a condition that started and closes one whose condition ended
(kept as a past alert); staff acknowledge open ones on the Alerts page. It runs in the hub's
background loop (hub/alerts/service.py), never on a page view. Thresholds are settings
(settings table), admin-editable on the Alerts page.
"""
import time

from hub.store.connection import transaction
from hub.store.days import today
from hub.store.rollups import DISTRICT_SCOPES, city_tz, mood_index

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
        "(scope = '*' OR (%s)) AND day BETWEEN ? AND ? GROUP BY 1, 2, 3" % DISTRICT_SCOPES, [end - w, end - 2 * w + 1, end]).fetchall()
    by = {}
    for scope, recent, value, n in rows:
        by.setdefault(scope, ({}, {}))[recent][str(value)] = n
    out = {}
    for scope, (before, recent) in by.items():
        if min(sum(before.values()), sum(recent.values())) < t["alert_mood_min_count"]:
            continue
        a, b = mood_index(before), mood_index(recent)
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
    with transaction(db.conn):
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
