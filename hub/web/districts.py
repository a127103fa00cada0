"""The Districts page (GET /districts) and its JSON twin (GET /api/v1/districts): districts
side by side, participation per 1,000 residents, and the districts that ask least for skills
help flagged (the digital-divide view). Read from agg_day (hub/store/rollups.py). The page
draws participation per 1,000 residents on the district map when boundaries were imported.
"""
from flask import Blueprint, jsonify, request, url_for

from hub.geo.boundaries import shapes
from hub.store.rollups import DISTRICT_SCOPES
from hub.web import aggregates
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import page, respond

bp = Blueprint("districts", __name__)
twins = Twins()


def districts(db, f):
    """Side by side per district; participation per 1,000 residents where populations are
    given; the districts that ask least for skills help flagged (bottom quarter, at least one
    when there are three or more districts): the digital-divide view."""
    where = DISTRICT_SCOPES + " AND day BETWEEN ? AND ?"
    args = list(f.day_range())
    if f.question:
        where += " AND q = ?"
        args.append(f.question)
    if f.district:
        where = "scope = ? AND " + where
        args.insert(0, "d:" + f.district)
    if f.kiosk:  # one kiosk: its own figures under its district's name
        row = db.execute("SELECT district FROM kiosks WHERE id = ?", [f.kiosk]).fetchone()
        where = where.replace(DISTRICT_SCOPES, "scope = ?")
        args.insert(0 if not f.district else 1, "k:" + f.kiosk)
        name = lambda _s: (row[0] or "") if row else ""  # noqa: E731
    else:
        name = lambda s: s[2:]  # noqa: E731
    rows = db.execute("SELECT scope, kind, value, sum(n) FROM agg_day WHERE " + where +
                      " GROUP BY scope, kind, value", args).fetchall()
    pops = dict(db.execute("SELECT name, population FROM districts").fetchall())
    kiosks = dict(db.execute("SELECT coalesce(district, ''), count(*) FROM kiosks "
                             "GROUP BY 1").fetchall())
    by = {}
    for scope, kind, value, n in rows:
        aggregates.add_count(by.setdefault(name(scope), aggregates.empty_summary()), kind, value, n)
    for d in pops:
        if not f.district and not f.kiosk:
            by.setdefault(d, aggregates.empty_summary())
    out = []
    for d, s in sorted(by.items()):
        aggregates.finish(s)
        pop = pops.get(d)
        skill_taps = sum(s["skills"].values())
        out.append({
            "district": d, "population": pop, "kiosks": kiosks.get(d, 0), "taps": s["taps"],
            "per_1000": round(s["taps"] * 1000 / pop, 2) if pop else None,
            "mood": s["mood"], "skills": s["skills"],
            "skills_per_1000": round(skill_taps * 1000 / pop, 2) if pop else None,
            "skills_per_kiosk": round(skill_taps / kiosks[d], 1) if kiosks.get(d) else None,
            "asks_least": False,
        })
    _flag_least(out)
    return {"districts": out}


def _flag_least(rows):
    key = "skills_per_1000" if any(r["skills_per_1000"] is not None for r in rows) \
        else "skills_per_kiosk"
    ranked = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key])
    if len(ranked) >= 3:
        for r in ranked[:max(1, len(ranked) // 4)]:
            r["asks_least"] = True


def with_map(db, f):
    """districts() and the districts' shapes, for the page's map (hub/web/maps.py)."""
    data = districts(db, f)
    data["shapes"] = shapes(db)
    return data


@bp.get("/districts", endpoint="page")
@login_required()
def page_view():
    return page("districts.html", with_map, title=_("Districts"),
                twin=url_for("api.districts_json", **request.args))


@twins.get("/districts")
def districts_json():
    data = districts(get_db(), filters())
    return respond(data, data["districts"], "districts")
