"""Open data routes: GET /api/v1/open/summary (JSON), /api/v1/open/summary.csv, the public page
/open, and the standard formats /api/v1/open/catalog (DCAT-AP) and /api/v1/open/ngsi-ld.

Every number comes from hub/opendata/grid.py: whole completed months only (?period=YYYY-MM,
default the latest; the CSV and NGSI-LD also take period=all), each base count rounded to a
multiple of the threshold by its cell key, everything else computed from the rounded counts.
A from/to range is refused with 400: arbitrary ranges are how small counts leak.
"""
import csv
import io
import json
import os
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from hub.opendata import catalog, grid, ngsi
from hub.web.db import get_db
from hub.web.filters import BadParam
from hub.web.i18n import _

bp = Blueprint("opendata", __name__)

DEFINITIONS = grid.DEFINITIONS


def threshold():
    return grid.min_count(get_db(), current_app.config["OPEN_DATA_MIN_COUNT"])


def licence():
    return (current_app.config.get("OPEN_DATA_LICENCE", "CC-BY-4.0"),
            current_app.config.get("OPEN_DATA_LICENCE_URL",
                                   "https://creativecommons.org/licenses/by/4.0/"))


def periods_asked(allow_all=False):
    """The months a request asks for; BadParam for anything outside the grid."""
    for name in ("from", "to", "district", "kiosk", "question"):
        if request.args.get(name):
            raise BadParam("%s: open data is published only for whole calendar months and every "
                           "district at once; use period=YYYY-MM%s" % (
                               name, " or period=all" if allow_all else ""))
    db = get_db()
    p = request.args.get("period", "")
    months = grid.published_months(db)
    if p == "all" and allow_all:
        return months
    if not p:
        return months[-1:]
    try:
        return [grid.check_period(db, p)]
    except grid.NotPublished as e:
        raise BadParam(str(e) + (", or all" if allow_all else ""))


def _tables(allow_all=False):
    db = get_db()
    return grid.tables(db, periods_asked(allow_all), threshold(), grid.cell_key(db))


@bp.errorhandler(BadParam)
def bad_param(e):
    return jsonify(error=str(e)), 400


@bp.get("/api/v1/open/summary")
def api_open_summary():
    t = _tables()
    one = t[0] if t else {"period": None, "from": None, "to": None, "districts": [],
                          "city": None}
    k = threshold()
    name, url = licence()
    return jsonify(dict(one, periods=grid.published_months(get_db()), suppression_threshold=k,
                        rounding_base=k, licence=name, licence_url=url,
                        definitions=DEFINITIONS, generated=int(time.time())))


@bp.get("/api/v1/open/summary.csv")
def open_csv():
    tables = _tables(allow_all=True)
    skills = grid.skills(get_db())
    name, url = licence()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["# licence: %s %s" % (name, url)])
    w.writerow(["# every count is rounded to a multiple of %d (docs: /api/v1/open/catalog)"
                % threshold()])
    w.writerow(["period", "from", "to", "area", "district", "taps", "mood_count", "mood_index",
                "mood_1", "mood_2", "mood_3", "mood_4"] + ["skill_" + s for s in skills])
    blank = lambda v: "" if v is None else v  # noqa: E731
    for t in tables:
        for area, d in [("district", r) for r in t["districts"]] + [("city", t["city"])]:
            w.writerow([t["period"], t["from"], t["to"], area, _safe_text(d["district"] or ""),
                        d["taps"], d["mood"]["count"], blank(d["mood"]["index"])] +
                       [d["mood"]["by_value"][v] for v in "1234"] +
                       [d["skills"].get(s, 0) for s in skills])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=civic-open-data.csv"})


def info():
    """Who publishes, where, under which licence: the app's OPEN_DATA_* settings."""
    cfg = current_app.config
    base = request.url_root.rstrip("/")
    env = os.environ.get
    return {"publisher": cfg.get("OPEN_DATA_PUBLISHER", env("CIVIC_OPEN_DATA_PUBLISHER",
                                                             "The city's civic kiosk hub")),
            "publisher_uri": cfg.get("OPEN_DATA_PUBLISHER_URI", base + "/open#publisher"),
            "city": cfg.get("OPEN_DATA_CITY", env("CIVIC_OPEN_DATA_CITY", "City")),
            "licence_url": licence()[1],
            "contact": cfg.get("OPEN_DATA_CONTACT"), "threshold": threshold()}


@bp.get("/api/v1/open/catalog")
def open_catalog():
    months = grid.published_months(get_db())
    ends = [dict(zip(("from", "to"), grid.month_range(m))) for m in months[:1] + months[-1:]]
    ends = [{k: grid.day_date(v).isoformat() for k, v in e.items()} for e in ends]
    doc = catalog.catalog(request.url_root.rstrip("/"), ends, info(), DEFINITIONS)
    return Response(json_dumps(doc), mimetype="application/ld+json")


@bp.get("/api/v1/open/ngsi-ld")
def open_ngsi_ld():
    i = info()
    doc = ngsi.entities(_tables(allow_all=True), DEFINITIONS, i["city"], i["publisher"])
    return Response(json_dumps(doc), mimetype="application/ld+json")


def json_dumps(doc):
    return json.dumps(doc, ensure_ascii=False, indent=1)


def _safe_text(v):
    # Names are typed by staff; a cell starting with = + - @ would be a formula in a spreadsheet.
    return "'" + v if v[:1] in ("=", "+", "-", "@") else v


@bp.get("/open")
def open_page():
    try:
        tables = _tables()
    except BadParam as e:
        return render_template("error.html", message=str(e)), 400
    return render_template("open.html", table=tables[0] if tables else None,
                           periods=grid.published_months(get_db()), k=threshold(),
                           licence=licence(), definitions=DEFINITIONS, title=_("Open data"))
