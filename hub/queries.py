"""Read queries for the dashboard and the API, over the aggregates (hub/rollups.py).

Each function takes a database and Filters (hub/filters.py) and returns plain JSON-able data;
pages render it and their JSON twins return it as is.
"""
from dataclasses import replace

from protocol.v1 import DEFAULT_SKILLS
from hub.filters import day_date, today
from hub.rollups import city_tz

FAR_PAST, FAR_FUTURE = -10 ** 6, 10 ** 7


def mood_index(by_value):
    """Mean mood mapped linearly from 1..4 to 0..100; None when there are no mood taps."""
    count = sum(by_value.values())
    if not count:
        return None
    mean = sum(int(v) * n for v, n in by_value.items()) / count
    return round((mean - 1) * 100 / 3, 1)


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
    args = [scope, FAR_PAST if f.start is None else f.start,
            FAR_FUTURE if f.end is None else f.end]
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
                                "by_value": {"1": 0, "2": 0, "3": 0, "4": 0}},
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


def kiosk_counts(db, f):
    sql, args = "SELECT count(*), coalesce(sum(online != 0), 0) FROM kiosks WHERE 1", []
    if f.district:
        sql += " AND district = ?"
        args.append(f.district)
    if f.kiosk:
        sql += " AND id = ?"
        args.append(f.kiosk)
    total, online = db.execute(sql, args).fetchone()
    return {"total": total, "online": online}


def summary(db, f, rows=None):
    """The CONTRACT's /api/v1/summary shape."""
    s = empty_summary()
    for _day, kind, value, n in (rows if rows is not None else day_counts(db, f)):
        add_count(s, kind, value, n)
    finish(s)
    s["kiosks"] = kiosk_counts(db, f)
    return s


def _bucket(span_days):
    return "day" if span_days <= 92 else ("week" if span_days <= 800 else "month")


def _bucket_start(day, bucket):
    d = day_date(day)
    if bucket == "week":
        return day - d.weekday()
    if bucket == "month":
        return day - (d.day - 1)
    return day


def overview(db, f, now=None):
    tzname = city_tz(db)
    rows = day_counts(db, f)
    s = summary(db, f, rows)
    t = today(tzname, now)
    week_start = t - day_date(t).weekday()
    s["today"] = sum(n for d, _k, _v, n in rows if d == t)
    s["this_week"] = sum(n for d, _k, _v, n in rows if week_start <= d <= t)
    if (f.start is not None and f.start > week_start) or (f.end is not None and f.end < t):
        # today/this week ignore the date range (they are about now), not the other filters
        recent = day_counts(db, replace(f, start=week_start, end=t))
        s["today"] = sum(n for d, _k, _v, n in recent if d == t)
        s["this_week"] = sum(n for d, _k, _v, n in recent)
    days = [r[0] for r in rows]
    first = f.start if f.start is not None else (min(days) if days else t)
    last = f.end if f.end is not None else max(max(days) if days else t, t)
    bucket = _bucket(last - first + 1)
    points = {}
    for d, kind, value, n in rows:
        b = _bucket_start(d, bucket)
        p = points.setdefault(b, {"taps": 0, "by_value": {"1": 0, "2": 0, "3": 0, "4": 0}})
        p["taps"] += n
        if kind == "mood":
            p["by_value"][str(value)] += n
    trend = []
    b = _bucket_start(first, bucket)
    while b <= last:
        p = points.get(b, {"taps": 0, "by_value": {"1": 0, "2": 0, "3": 0, "4": 0}})
        nb = _bucket_start(b + (1 if bucket == "day" else 7 if bucket == "week" else 32), bucket)
        # days: how much of the bucket the period covers (the first and last are often partial),
        # so taps_per_day compares buckets fairly.
        days = min(nb - 1, last) - max(b, first) + 1
        trend.append({"start": day_date(b).isoformat(), "days": days, "taps": p["taps"],
                      "taps_per_day": round(p["taps"] / days, 1),
                      "mood_count": sum(p["by_value"].values()),
                      "mood_index": mood_index(p["by_value"])})
        b = nb
    s["trend"] = {"bucket": bucket, "points": trend}
    s["timezone"] = tzname
    s["today_date"] = day_date(t).isoformat()
    return s
