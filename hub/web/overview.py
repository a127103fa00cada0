"""The Overview page (GET /overview) and its JSON twin (GET /api/v1/overview), and the
GET /api/v1/summary (docs/API.md): the city's taps, mood and skills for the filters, today and this
week, and a trend whose bucket (day, week, month) follows the length of the period.
"""
from dataclasses import replace

from flask import Blueprint, jsonify, redirect, request, url_for

from hub.alerts.rules import open_count
from hub.store.days import day_date, today
from hub.store.rollups import city_tz, empty_moods, mood_index
from hub.web import aggregates
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import page, respond

bp = Blueprint("overview", __name__)
twins = Twins()


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
    rows = aggregates.day_counts(db, f)
    s = aggregates.summary(db, f, rows)
    t = today(tzname, now)
    week_start = t - day_date(t).weekday()
    s["today"] = sum(n for d, _k, _v, n in rows if d == t)
    s["this_week"] = sum(n for d, _k, _v, n in rows if week_start <= d <= t)
    if (f.start is not None and f.start > week_start) or (f.end is not None and f.end < t):
        # today/this week ignore the date range (they are about now), not the other filters
        recent = aggregates.day_counts(db, replace(f, start=week_start, end=t))
        s["today"] = sum(n for d, _k, _v, n in recent if d == t)
        s["this_week"] = sum(n for d, _k, _v, n in recent)
    days = [r[0] for r in rows]
    first = f.start if f.start is not None else (min(days) if days else t)
    last = f.end if f.end is not None else max(max(days) if days else t, t)
    bucket = _bucket(last - first + 1)
    points = {}
    for d, kind, value, n in rows:
        b = _bucket_start(d, bucket)
        p = points.setdefault(b, {"taps": 0, "by_value": empty_moods()})
        p["taps"] += n
        if kind == "mood":
            p["by_value"][str(value)] += n
    trend = []
    b = _bucket_start(first, bucket)
    while b <= last:
        p = points.get(b, {"taps": 0, "by_value": empty_moods()})
        nb = _bucket_start(b + (1 if bucket == "day" else 7 if bucket == "week" else 32), bucket)
        # days: how much of the bucket the period covers (the first and last are often partial),
        # so taps_per_day compares buckets fairly.
        days = min(nb - 1, last) - max(b, first) + 1
        # partial: the period leaves days of the bucket out, or the bucket is still running
        # (today is in it), so its figures are not comparable with the others' yet.
        partial = days < nb - b or b <= t < nb
        trend.append({"start": day_date(b).isoformat(), "days": days, "partial": partial,
                      "taps": p["taps"],
                      "taps_per_day": round(p["taps"] / days, 1),
                      "mood_count": sum(p["by_value"].values()),
                      "mood_index": mood_index(p["by_value"])})
        b = nb
    s["trend"] = {"bucket": bucket, "points": trend}
    s["timezone"] = tzname
    s["alerts_open"] = open_count(db)
    s["today_date"] = day_date(t).isoformat()
    return s


@bp.get("/")
def index():
    return redirect(url_for("overview.page"))


@bp.get("/overview", endpoint="page")
@login_required()
def page_view():
    return page("overview.html", overview, title=_("Overview"),
                twin=url_for("api.overview_json", **request.args))


@twins.get("/overview")
def overview_json():
    f = filters()
    data = overview(get_db(), f)
    data["filters"] = f.as_json()
    return respond(data, data["trend"]["points"], "overview")


@twins.get("/summary")
def summary():
    f = filters(("from", "to", "district", "kiosk", "question"))
    return jsonify(aggregates.summary(get_db(), f))
