"""Alert rules: a kiosk offline beyond a threshold; the mood index of the city or a district
dropping by more than a threshold between the last window and the one before; and what a
kiosk's own status tells (firmware/README.md): it refuses presses (its queue is full), it
crash-loops, its clock has not synced, its queue has not gone down for a while, or its boot
counter went back (its flash was formatted).

evaluate() opens an alert for a condition that started and closes one whose condition ended
(kept as a past alert); staff acknowledge open ones on the Alerts page. It runs in the hub's
background loop (hub/alerts/service.py), never on a page view. Each alert keeps its facts as
JSON (`detail`), so its message is written in the reader's language and time zone
(messages.py). Thresholds are settings (settings.py).

A kiosk is offline when its last will or status says so, or when the hub has heard nothing
from it for SILENT_HEARTBEATS heartbeat intervals: a frozen kiosk keeps its TCP connection,
and so its "online", for as long as the broker's keepalive allows.
"""
import json
import time

from hub.alerts.settings import silent_after, thresholds
from hub.store.connection import transaction
from hub.store.days import today
from hub.store.rollups import DISTRICT_SCOPES, city_tz, mood_index


def offline_kiosks(db, now):
    """{kiosk: last_seen} of the kiosks that are offline now, by the broker or by silence."""
    silent = now - silent_after(db)
    return dict(db.execute(
        "SELECT id, last_seen FROM kiosks WHERE last_seen IS NOT NULL AND "
        "(online = 0 OR last_seen < ?)", [silent]).fetchall())


def _mood_drops(db, t, now):
    w = t["alert_mood_window_days"]
    end = today(city_tz(db), now)
    rows = db.execute(
        "SELECT scope, day > ?, value, sum(n) FROM agg_day WHERE kind = 'mood' AND "
        "(scope = '*' OR (%s)) AND day BETWEEN ? AND ? GROUP BY 1, 2, 3" % DISTRICT_SCOPES,
        [end - w, end - 2 * w + 1, end]).fetchall()
    by = {}
    for scope, recent, value, n in rows:
        by.setdefault(scope, ({}, {}))[recent][str(value)] = n
    out = {}
    for scope, (before, recent) in by.items():
        if min(sum(before.values()), sum(recent.values())) < t["alert_mood_min_count"]:
            continue
        a, b = mood_index(before), mood_index(recent)
        if a - b > t["alert_mood_drop"]:
            out[scope] = {"before": a, "after": b, "days": w}
    return out


FLASH_RESET_DAYS = 7  # a flash-reset alert stays open this long (or until acknowledged)


def _kiosk_conditions(db, t, now):
    """{(kind, kiosk): detail} for the alerts a kiosk's own status raises."""
    out = {}
    for kiosk, refused in db.execute(
            "SELECT id, refused FROM kiosks WHERE refused > 0 AND refused_at >= ?",
            [now - 60 * t["alert_refused_minutes"]]):
        out[("refusing", kiosk)] = {"refused": refused}
    for kiosk, n in db.execute(
            "SELECT kiosk, count(*) FROM kiosk_boots WHERE crashed = 1 AND ts >= ? "
            "GROUP BY kiosk HAVING count(*) >= ?", [now - 3600, t["alert_crash_boots"]]):
        out[("crash-loop", kiosk)] = {"crashes": n}
    for kiosk, uptime in db.execute(
            "SELECT id, uptime FROM kiosks WHERE online = 1 AND synced = 0 AND uptime >= ?",
            [60 * t["alert_unsynced_minutes"]]):
        out[("clock-unsynced", kiosk)] = {"minutes": uptime // 60}
    for kiosk, queue, since in db.execute(
            "SELECT id, queue, queue_stuck_since FROM kiosks WHERE queue > 0 AND "
            "queue_stuck_since <= ?", [now - 60 * t["alert_queue_minutes"]]):
        out[("queue-growing", kiosk)] = {"queue": queue, "since": since}
    # rp2's _boot.py formats the whole flash when littlefs does not mount: the queue is gone,
    # and once the kiosk is flashed again its seqs start at 1, which the hub takes for
    # redeliveries of taps it holds. Nothing on the kiosk can stop that format: say it.
    for kiosk, boot in db.execute(
            "SELECT id, boot FROM kiosks WHERE flash_reset_at >= ?",
            [now - 86400 * FLASH_RESET_DAYS]):
        out[("flash-reset", kiosk)] = {"boot": boot}
    return out


def _conditions(db, now):
    """{(kind, subject): detail} of every condition that holds now."""
    t = thresholds(db)
    cutoff = now - 60 * t["alert_offline_minutes"]
    out = {("offline", k): {"since": ls} for k, ls in offline_kiosks(db, now).items()
           if ls < cutoff}
    out.update({("mood-drop", s): d for s, d in _mood_drops(db, t, now).items()})
    out.update(_kiosk_conditions(db, t, now))
    return out


def _utc(ts):
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


SUMMARIES = {   # the English message kept in alerts.message (the API's and logs' plain text)
    "offline": lambda d: "offline since %s" % _utc(d["since"]),
    "mood-drop": lambda d: "mood index %.1f -> %.1f over %d days" % (d["before"], d["after"],
                                                                     d["days"]),
    "refusing": lambda d: "%d presses refused (queue full) since its boot" % d["refused"],
    "crash-loop": lambda d: "%d crashes in the last hour" % d["crashes"],
    "clock-unsynced": lambda d: "clock not synced after %d min of uptime" % d["minutes"],
    "queue-growing": lambda d: "%d taps queued, not going down since %s" % (d["queue"],
                                                                           _utc(d["since"])),
    "flash-reset": lambda d: "boot counter started again (now %s): its flash was formatted "
                             "and its queued taps lost; its seqs start again at 1 and count "
                             "as taps already stored: flash it under a new kiosk id"
                             % d["boot"],
}


def _summary(kind, detail):
    return SUMMARIES[kind](detail)


def evaluate(db, now=None):
    """Open alerts for conditions that started, close those that ended.
    -> [(event, alert id)] with event 'opened' or 'closed', in the order they happened."""
    now = int(now or time.time())
    holds = _conditions(db, now)
    events = []
    with transaction(db.conn):
        open_ = {(k, s): i for i, k, s in db.execute(
            "SELECT id, kind, subject FROM alerts WHERE closed IS NULL")}
        for (kind, subject), detail in sorted(holds.items()):
            if (kind, subject) not in open_:
                cur = db.execute(
                    "INSERT INTO alerts (kind, subject, message, detail, opened) VALUES "
                    "(?, ?, ?, ?, ?)", [kind, subject, _summary(kind, detail),
                                        json.dumps(detail), now])
                events.append(("opened", cur.lastrowid))
        for key, i in sorted(open_.items()):
            if key not in holds:
                db.execute("UPDATE alerts SET closed = ? WHERE id = ?", [now, i])
                events.append(("closed", i))
    return events


def open_count(db):
    """For the menu and Overview: how many alerts are open (a count, never an evaluation)."""
    return db.execute("SELECT count(*) FROM alerts WHERE closed IS NULL").fetchone()[0]
