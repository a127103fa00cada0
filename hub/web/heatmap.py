"""The Heatmap page (GET /heatmap) and its JSON twin (GET /api/v1/heatmap): participation and
mood by hour of day and weekday in the city's time zone, from agg_how, or from rollup_hourly
for one kiosk or one question in one district (hub/store/rollups.py).
"""
from flask import Blueprint, jsonify, request, url_for

from hub.store.rollups import city_tz, empty_moods, local_hour, mood_index
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import page

bp = Blueprint("heatmap", __name__)
twins = Twins()


def heatmap(db, f):
    """Hour of day x weekday (city time), participation and mood index per cell."""
    lo, hi = f.day_range()
    if f.kiosk or (f.question and f.district):
        # Fine grain: one kiosk's or one question's hours, bucketed here in city time.
        col, val = ("kiosk", f.kiosk) if f.kiosk else ("q", f.question)
        tz = city_tz(db)
        sql = ("SELECT hour, kind, value, sum(n) FROM rollup_hourly WHERE %s = ? " % col)
        args = [val]
        if f.kiosk and f.question:
            sql += "AND q = ? "
            args.append(f.question)
        if f.district:
            sql += "AND kiosk IN (SELECT id FROM kiosks WHERE district = ?) "
            args.append(f.district)
        rows = []
        for hour, kind, value, n in db.execute(sql + "GROUP BY 1, 2, 3", args).fetchall():
            day, how = local_hour(tz, hour)
            if lo <= day <= hi:
                rows.append((how, kind, value if kind == "mood" else "", n))
    else:
        scope = "d:" + f.district if f.district else ("q:" + f.question if f.question else "*")
        rows = db.execute("SELECT how, kind, value, sum(n) FROM agg_how WHERE scope = ? AND "
                          "day BETWEEN ? AND ? GROUP BY 1, 2, 3", [scope, lo, hi]).fetchall()
    taps = [[0] * 24 for _ in range(7)]
    moods = [[empty_moods() for _ in range(24)] for _ in range(7)]
    for how, kind, value, n in rows:
        wd, h = divmod(how, 24)
        taps[wd][h] += n
        if kind == "mood":
            moods[wd][h][str(value)] += n
    return {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "hours": list(range(24)), "taps": taps,
            "mood_index": [[mood_index(c) for c in row] for row in moods],
            "mood_count": [[sum(c.values()) for c in row] for row in moods],
            "timezone": city_tz(db)}


@bp.get("/heatmap", endpoint="page")
@login_required()
def page_view():
    return page("heatmap.html", heatmap, title=_("Heatmap"),
                twin=url_for("api.heatmap_json", **request.args))


@twins.get("/heatmap")
def heatmap_json():
    return jsonify(heatmap(get_db(), filters()))
