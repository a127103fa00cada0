"""Open data: public aggregates by district, safe to publish.

Privacy rule: every count below OPEN_DATA_MIN_COUNT (default 5) is published as null
("suppressed"). So a suppressed cell cannot be recovered by subtraction from a published
total, each group that adds up to a published total (mood values; skills) with
exactly one suppressed cell also suppresses its next smallest cell (complementary
suppression). No city-wide total is published, so district totals need no such step.
The mood index is published only where the mood count is.
"""
import csv
import io
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from hub.store.rollups import DISTRICT_SCOPES
from hub.web import aggregates
from hub.web.db import get_db
from hub.web.filters import BadParam, parse
from hub.web.i18n import _

bp = Blueprint("opendata", __name__)

DEFINITIONS = {
    "taps": "Button presses counted by the kiosks in the district (mood and skills).",
    "mood.count": "Presses of the four mood buttons answering the question shown.",
    "mood.by_value": "Mood presses per button: 1 very unhappy, 2 unhappy, 3 happy, "
                     "4 very happy.",
    "mood.index": "Mean mood mapped linearly from 1..4 to 0..100 (null when suppressed).",
    "skills": "Presses of the skills buttons per digital-skill category.",
    "null": "Suppressed: the count was below the threshold, or would reveal one that was.",
}


def _suppress_group(cells, k):
    """cells: {key: count}; returns {key: count or None} with complementary suppression."""
    out = {key: (n if n >= k else None) for key, n in cells.items()}
    hidden = [key for key, v in out.items() if v is None]
    if len(hidden) == 1:
        shown = sorted((n, key) for key, n in out.items() if n is not None)
        if shown:
            out[shown[0][1]] = None
    return out


def open_summary(db, f, k):
    rows = db.execute(
        "SELECT substr(scope, 3), kind, value, sum(n) FROM agg_day "
        "WHERE " + DISTRICT_SCOPES + " AND day BETWEEN ? AND ? GROUP BY 1, 2, 3",
        f.day_range()).fetchall()
    raw = {}
    for district, kind, value, n in rows:
        aggregates.add_count(raw.setdefault(district, aggregates.empty_summary()), kind, value, n)
    out = []
    for d in sorted(raw):
        s = raw[d]
        mood_count = s["mood"]["count"] if s["mood"]["count"] >= k else None
        out.append({
            "district": d or "unassigned",
            "taps": s["taps"] if s["taps"] >= k else None,
            "mood": {"count": mood_count,
                     "index": aggregates.mood_index(s["mood"]["by_value"]) if mood_count else None,
                     "by_value": _suppress_group(s["mood"]["by_value"], k)},
            "skills": _suppress_group(s["skills"], k),
        })
    return {
        "districts": out,
        "from": f.as_json()["from"], "to": f.as_json()["to"],
        "suppression_threshold": k,
        "licence": current_app.config.get("OPEN_DATA_LICENCE", "CC-BY-4.0"),
        "licence_url": current_app.config.get(
            "OPEN_DATA_LICENCE_URL", "https://creativecommons.org/licenses/by/4.0/"),
        "definitions": DEFINITIONS,
        "generated": int(time.time()),
    }


def _data():
    f = parse(request.args, ("from", "to"))
    return open_summary(get_db(), f, int(current_app.config["OPEN_DATA_MIN_COUNT"]))


@bp.errorhandler(BadParam)
def bad_param(e):
    return jsonify(error=str(e)), 400


@bp.get("/api/v1/open/summary")
def api_open_summary():
    return jsonify(_data())


@bp.get("/api/v1/open/summary.csv")
def open_csv():
    data = _data()
    skills = sorted({s for d in data["districts"] for s in d["skills"]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["# licence: %s %s" % (data["licence"], data["licence_url"])])
    w.writerow(["# counts below %d are empty (suppressed)" % data["suppression_threshold"]])
    w.writerow(["district", "taps", "mood_count", "mood_index", "mood_1", "mood_2", "mood_3",
                "mood_4"] + ["skill_" + s for s in skills])
    blank = lambda v: "" if v is None else v  # noqa: E731
    for d in data["districts"]:
        w.writerow([_safe_text(d["district"]), blank(d["taps"]), blank(d["mood"]["count"]),
                    blank(d["mood"]["index"])] +
                   [blank(d["mood"]["by_value"].get(v)) for v in "1234"] +
                   [blank(d["skills"].get(s)) for s in skills])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=civic-open-data.csv"})


def _safe_text(v):
    # Names are typed by staff; a cell starting with = + - @ would be a formula in a spreadsheet.
    return "'" + v if v[:1] in ("=", "+", "-", "@") else v


@bp.get("/open")
def open_page():
    try:
        data = _data()
    except BadParam as e:
        return render_template("error.html", message=str(e)), 400
    return render_template("open.html", data=data, title=_("Open data"))
