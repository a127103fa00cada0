"""The Help offers admin page (GET /admin/offers, role admin) and its JSON twin
(GET /api/v1/offers): where citizens get help with each skill, for a district or the whole
city; adding one writes the next config of the kiosks that show it (hub/offers/offers.py);
withdrawing one too; and the outcomes: how many people came, per offer and month.
Each change is one transaction with its audit row (hub/web/audit.py).
"""
from flask import Blueprint, g, redirect, render_template, request, url_for

from hub.offers import offers as lib
from hub.store.connection import transaction
from hub.web import audit
from hub.web.api import Twins
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import filter_options

bp = Blueprint("offers", __name__, url_prefix="/admin")
twins = Twins()


def _back(error=None, **kw):
    return redirect(url_for("offers.page", error=error, **kw) if error
                    else url_for("offers.page", **kw))


@bp.get("/offers", endpoint="page")
@login_required("admin")
def page_view():
    db = get_db()
    return render_template("admin_offers.html", title=_("Help offers"),
                           offers=lib.list_offers(db), skills=lib.known_skills(db),
                           districts=filter_options(db)["districts"],
                           error=request.args.get("error"), added=request.args.get("added"),
                           pushed=request.args.get("pushed"))


@bp.post("/offers")
@login_required("admin")
def add():
    f, db = request.form, get_db()
    try:
        with transaction(db.conn):
            oid, pushed = lib.add_offer(db, f.get("skill"), f.get("text_en"),
                                        f.get("district") or None, f.get("text_nl"),
                                        f.get("place"), f.get("times"), f.get("contact"),
                                        user=g.user["name"])
            audit.record(db, "offer-add", offer=oid, skill=f.get("skill"),
                         district=f.get("district") or None, kiosks=[k for k, _r in pushed])
    except ValueError as e:
        return _back(str(e))
    return _back(added=oid, pushed=len(pushed))


@bp.post("/offers/<int:oid>/remove")
@login_required("admin")
def remove(oid):
    db = get_db()
    try:
        with transaction(db.conn):
            pushed = lib.remove_offer(db, oid)
            audit.record(db, "offer-remove", offer=oid, kiosks=[k for k, _r in pushed])
    except ValueError as e:
        return _back(str(e))
    return _back(pushed=len(pushed))


@bp.post("/offers/<int:oid>/attendance")
@login_required("admin")
def attendance(oid):
    f, db = request.form, get_db()
    try:
        with transaction(db.conn):
            lib.record_attendance(db, oid, f.get("month"), f.get("people"))
            audit.record(db, "offer-attendance", offer=oid, month=f.get("month"),
                         people=f.get("people"))
    except ValueError as e:
        return _back(str(e))
    return _back()


@twins.get("/offers")
def offers_json():
    return {"offers": lib.list_offers(get_db())}
