"""Reading the aggregates (hub/store/rollups.py) the way every page does: the scope a filter
reads, its daily counts, and the summary shape of docs/API.md built from them.

Each function takes the request's database and Filters (hub/web/filters.py) and returns plain
JSON-able data; pages render it and their JSON twins return it as is. What only one page needs
lives in that page's module.
"""
import time

from hub.alerts.settings import silent_after
from hub.store.rollups import empty_moods, mood_index
from protocol.v1 import DEFAULT_SKILLS


def scope_of(db, f):
    """The aggregate scope a filter reads, or None when the filter matches nothing."""
    if f.kiosk:
        if f.district:
            row = db.execute("SELECT district FROM kiosks WHERE id = ?", [f.kiosk]).fetchone()
            if not row or (row[0] or "") != f.district:
                return None
        return "k:" + f.kiosk
    if f.district:
        return "d:" + f.district
    return "*"


def _where(f, scope):
    sql = "scope = ? AND day BETWEEN ? AND ?"
    args = [scope, *f.day_range()]
    if f.question:
        sql += " AND q = ?"
        args.append(f.question)
    return sql, args


def day_counts(db, f):
    """[(day, kind, value, n)] for the filter, from agg_day."""
    scope = scope_of(db, f)
    if scope is None:
        return []
    where, args = _where(f, scope)
    return db.execute("SELECT day, kind, value, sum(n) FROM agg_day WHERE " + where +
                      " GROUP BY day, kind, value", args).fetchall()


def empty_summary():
    return {"taps": 0, "mood": {"count": 0, "index": None,
                                "by_value": empty_moods()},
            "skills": {s: 0 for s in DEFAULT_SKILLS}}


def add_count(s, kind, value, n):
    s["taps"] += n
    if kind == "mood":
        s["mood"]["by_value"][str(value)] = s["mood"]["by_value"].get(str(value), 0) + n
        s["mood"]["count"] += n
    else:
        s["skills"][str(value)] = s["skills"].get(str(value), 0) + n


def finish(s):
    s["mood"]["index"] = mood_index(s["mood"]["by_value"])
    return s


def kiosk_counts(db, f, now=None):
    """Kiosks and how many are online: by the broker, and heard from within the hub's
    liveness window (hub/alerts/rules.py)."""
    alive = int(now if now is not None else time.time()) - silent_after(db)
    sql = "SELECT count(*), coalesce(sum(online != 0 AND last_seen >= ?), 0) FROM kiosks WHERE 1"
    args = [alive]
    if f.district:
        sql += " AND district = ?"
        args.append(f.district)
    if f.kiosk:
        sql += " AND id = ?"
        args.append(f.kiosk)
    total, online = db.execute(sql, args).fetchone()
    return {"total": total, "online": online}


def summary(db, f, rows=None):
    """The /api/v1/summary shape of docs/API.md."""
    s = empty_summary()
    for _day, kind, value, n in (rows if rows is not None else day_counts(db, f)):
        add_count(s, kind, value, n)
    finish(s)
    s["kiosks"] = kiosk_counts(db, f)
    return s
