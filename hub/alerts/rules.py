"""Alert rules: a kiosk offline beyond a threshold; the mood index of the city or a district
dropping by more than a threshold between the last window and the one before; and what a
kiosk's own status tells (firmware/README.md): it refuses presses (its queue is full), it
crash-loops, its clock has not synced, its queue has not gone down for a while, or its boot
counter went back (its flash was formatted).

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
            "alert_mood_min_count": 20, "alert_refused_minutes": 60, "alert_crash_boots": 3,
            "alert_unsynced_minutes": 15, "alert_queue_minutes": 30}
# Kinds of the kiosk-status alerts, each with the function that finds its subjects.
KIOSK_KINDS = ("refusing", "crash-loop", "clock-unsynced", "queue-growing", "flash-reset")
FLASH_RESET_DAYS = 7  # a flash-reset alert stays open this long (or until acknowledged)


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


def _kiosk_conditions(db, t, now):
    """{kind: {kiosk: message}} for the kiosk-status alerts that hold now."""
    out = {k: {} for k in KIOSK_KINDS}
    for kiosk, refused, at in db.execute(
            "SELECT id, refused, refused_at FROM kiosks WHERE refused > 0 AND refused_at >= ?",
            [now - 60 * t["alert_refused_minutes"]]):
        out["refusing"][kiosk] = "%d presses refused (queue full) since its boot" % refused
    for kiosk, n in db.execute(
            "SELECT kiosk, count(*) FROM kiosk_boots WHERE crashed = 1 AND ts >= ? "
            "GROUP BY kiosk HAVING count(*) >= ?", [now - 3600, t["alert_crash_boots"]]):
        out["crash-loop"][kiosk] = "%d crashes in the last hour" % n
    for kiosk, uptime in db.execute(
            "SELECT id, uptime FROM kiosks WHERE online = 1 AND synced = 0 AND uptime >= ?",
            [60 * t["alert_unsynced_minutes"]]):
        out["clock-unsynced"][kiosk] = "clock not synced after %d min of uptime" % (uptime // 60)
    for kiosk, queue, since in db.execute(
            "SELECT id, queue, queue_stuck_since FROM kiosks WHERE queue > 0 AND "
            "queue_stuck_since <= ?", [now - 60 * t["alert_queue_minutes"]]):
        out["queue-growing"][kiosk] = "%d taps queued, not going down since %d" % (queue, since)
    # rp2's _boot.py formats the whole flash when littlefs does not mount: the queue is gone,
    # and once the kiosk is flashed again its seqs start at 1, which the hub takes for
    # redeliveries of taps it holds. Nothing on the kiosk can stop that format: say it.
    for kiosk, boot, at in db.execute(
            "SELECT id, boot, flash_reset_at FROM kiosks WHERE flash_reset_at >= ?",
            [now - 86400 * FLASH_RESET_DAYS]):
        out["flash-reset"][kiosk] = ("boot counter started again (now %s): its flash was "
                                     "formatted and its queued taps lost; its seqs start "
                                     "again at 1 and count as taps already stored: flash it "
                                     "under a new kiosk id" % boot)
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
    kiosk_alerts = _kiosk_conditions(db, t, now)
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
        for kind, found in kiosk_alerts.items():
            for kiosk, message in found.items():
                if (kind, kiosk) not in open_:
                    db.execute("INSERT INTO alerts (kind, subject, message, opened) VALUES "
                               "(?, ?, ?, ?)", [kind, kiosk, message, now])
        for (kind, subject), i in open_.items():
            if (kind == "offline" and subject not in offline) or \
                    (kind == "mood-drop" and subject not in drops) or \
                    (kind in kiosk_alerts and subject not in kiosk_alerts[kind]):
                db.execute("UPDATE alerts SET closed = ? WHERE id = ?", [now, i])
    return db.execute("SELECT count(*) FROM alerts WHERE closed IS NULL").fetchone()[0]
