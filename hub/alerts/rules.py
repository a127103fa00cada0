"""Alert rules: a kiosk offline beyond a threshold; the mood index of the city or a district
dropping by more than a threshold between the last window and the one before.

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


def _conditions(db, now):
    """{(kind, subject): detail} of every condition that holds now."""
    t = thresholds(db)
    cutoff = now - 60 * t["alert_offline_minutes"]
    out = {("offline", k): {"since": ls} for k, ls in offline_kiosks(db, now).items()
           if ls < cutoff}
    out.update({("mood-drop", s): d for s, d in _mood_drops(db, t, now).items()})
    return out


def _summary(kind, detail):
    """The English message kept in alerts.message (the API's and logs' plain text)."""
    if kind == "offline":
        return "offline since %s" % time.strftime("%Y-%m-%d %H:%M UTC",
                                                  time.gmtime(detail["since"]))
    return "mood index %.1f -> %.1f over %d days" % (detail["before"], detail["after"],
                                                    detail["days"])


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
