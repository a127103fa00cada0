"""The Skills page (GET /skills) and its JSON twin (GET /api/v1/skills): skills demand against
help on offer, per district and category.

Demand: skills presses in the period (agg_day, hub/store/rollups.py), per 1,000 residents where
the district's population is given. Supply: the help offers now in force (hub/offers/offers.py)
for the district or the whole city. A gap is a district and category with high demand (at least
the median of the districts' rates for that category, and above 0) and no offer, neither the
district's nor a city-wide one: the gaps, highest demand first, are what staff act on first.
Unmet demand per district (the map's figure) adds up the rates of its categories without an
offer. Outcomes: presses against the people who came to the offers (attendance per month, in the
months the period touches).
"""
import statistics

from flask import Blueprint, request, url_for

from hub.geo.boundaries import shapes
from hub.offers.offers import known_skills
from hub.store.days import day_date
from hub.store.rollups import DISTRICT_SCOPES
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import page, respond

bp = Blueprint("skills", __name__)
twins = Twins()
ALLOWED = ("from", "to", "district")
CITY = "*"   # the district of a city-wide offer in the outcomes


def _months(f):
    lo, hi = f.day_range()
    first = day_date(lo).strftime("%Y-%m") if f.start is not None else "0000-00"
    last = day_date(hi).strftime("%Y-%m") if f.end is not None else "9999-99"
    return first, last


def skills(db, f):
    lo, hi = f.day_range()
    sql = ("SELECT scope, value, sum(n) FROM agg_day WHERE kind = 'skill' AND " + DISTRICT_SCOPES
           + " AND day BETWEEN ? AND ?")
    args = [lo, hi]
    if f.district:
        sql += " AND scope = ?"
        args.append("d:" + f.district)
    presses = {}
    for scope, cat, n in db.execute(sql + " GROUP BY 1, 2", args).fetchall():
        presses.setdefault(scope[2:], {})[cat] = n
    pops = dict(db.execute("SELECT name, population FROM districts").fetchall())
    names = set(presses) | ({f.district} if f.district else set(pops))
    cats = known_skills(db)
    cats += sorted({c for p in presses.values() for c in p if c not in cats})
    offers = {}
    for oid, cat, district in db.execute(
            "SELECT id, skill, coalesce(district, ?) FROM offers WHERE removed IS NULL",
            [CITY]).fetchall():
        offers.setdefault((district, cat), []).append(oid)
    first, last = _months(f)
    came = {}
    for cat, district, people in db.execute(
            "SELECT o.skill, coalesce(o.district, ?), sum(a.people) FROM offer_attendance a "
            "JOIN offers o ON o.id = a.offer WHERE a.month BETWEEN ? AND ? GROUP BY 1, 2",
            [CITY, first, last]).fetchall():
        came[(district, cat)] = people
    rows = []
    for d in sorted(names):
        pop = pops.get(d)
        by_cat = {}
        for c in cats:
            n = presses.get(d, {}).get(c, 0)
            by_cat[c] = {"presses": n,
                         "per_1000": round(n * 1000 / pop, 2) if pop else None,
                         "offers": len(offers.get((d, c), [])),
                         "city_offers": len(offers.get((CITY, c), [])),
                         "attendance": came.get((d, c), 0),
                         "gap": False}
            by_cat[c]["covered"] = bool(by_cat[c]["offers"] or by_cat[c]["city_offers"])
        rows.append({"district": d, "population": pop, "skills": by_cat,
                     "presses": sum(v["presses"] for v in by_cat.values())})
    gaps = []
    for c in cats:
        key = "per_1000" if any(r["skills"][c]["per_1000"] is not None for r in rows) \
            else "presses"
        rates = [r["skills"][c][key] for r in rows if r["skills"][c][key] is not None]
        if not rates:
            continue
        median = statistics.median(rates)
        for r in rows:
            s = r["skills"][c]
            if s[key] is not None and s[key] > 0 and s[key] >= median and not s["covered"]:
                s["gap"] = True
                gaps.append({"district": r["district"], "skill": c, "presses": s["presses"],
                             "per_1000": s["per_1000"]})
    gaps.sort(key=lambda g: (-(g["per_1000"] if g["per_1000"] is not None else -1),
                             -g["presses"], g["district"], g["skill"]))
    for r in rows:
        r["unmet_presses"] = sum(s["presses"] for s in r["skills"].values() if not s["covered"])
        r["unmet_per_1000"] = round(r["unmet_presses"] * 1000 / r["population"], 2) \
            if r["population"] else None
        r["gaps"] = [c for c in cats if r["skills"][c]["gap"]]
    city = {c: {"offers": len(offers.get((CITY, c), [])), "attendance": came.get((CITY, c), 0),
                "presses": sum(r["skills"][c]["presses"] for r in rows)} for c in cats}
    return {"skills": cats, "districts": rows, "gaps": gaps, "city": city,
            "months": {"from": None if first == "0000-00" else first,
                       "to": None if last == "9999-99" else last}}


def with_map(db, f):
    """skills() and the districts' shapes, for the page's map."""
    data = skills(db, f)
    data["shapes"] = shapes(db)
    return data


@bp.get("/skills", endpoint="page")
@login_required()
def page_view():
    return page("skills.html", with_map, allowed=ALLOWED, title=_("Skills"),
                twin=url_for("api.skills_json", **request.args))


@twins.get("/skills")
def skills_json():
    data = skills(get_db(), filters(ALLOWED))
    rows = [{"district": r["district"], "population": r["population"], "skill": c,
             **{k: v for k, v in s.items()}} for r in data["districts"]
            for c, s in r["skills"].items()]
    return respond(data, rows, "skills")
