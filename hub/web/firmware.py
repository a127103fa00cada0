"""The Firmware page (GET /admin/firmware, role admin) and its JSON twin GET /api/v1/firmware
(any staff): the releases, each kiosk's running version and where its update stands, and the
form that rolls a release out (docs/UPDATES.md).

A release goes to one kiosk first (the canary); a district or every kiosk only once at least
one kiosk has confirmed it, so a bad build stops at one kiosk (the CLI can do all at once).
Recording a rollout only writes offers (hub/updates/rollouts.py), in one transaction with its
audit row; the ingest publishes them.
"""
from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from hub.store.connection import transaction
from hub.updates import rollouts
from hub.web import audit
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.kiosk_health import natural_key

bp = Blueprint("firmware", __name__, url_prefix="/admin")
twins = Twins()

SHOWN = 200   # kiosks listed on the page with an update, most recently changed first


def state_label(state):
    """A kiosk's update state in the page's language."""
    return {"offered": _("offered"), "downloading": _("downloading"),
            "verified": _("verified"), "switched": _("switched, on trial"),
            "confirmed": _("confirmed"), "rolled_back": _("rolled back"),
            "failed": _("failed"), "superseded": _("superseded")}.get(state, state)


def _back(error=None, **kw):
    return redirect(url_for("firmware.page", error=error, **kw) if error
                    else url_for("firmware.page", **kw))


def page_data(db):
    data = rollouts.report(db.conn)
    kiosks = data["kiosks"]
    updating = [k for k in kiosks if k["update"]]
    updating.sort(key=lambda k: -(k["update"]["updated_at"] or 0))
    running = {}
    for k in kiosks:
        if k["fw"]:
            running[k["fw"]] = running.get(k["fw"], 0) + 1
    return {"releases": data["releases"], "updating": updating[:SHOWN],
            "updating_total": len(updating), "running": sorted(running.items()),
            "kiosks": sorted((k["id"] for k in kiosks if k["update_key"]), key=natural_key),
            "districts": sorted({k["district"] for k in kiosks if k["district"]})}


@bp.get("/firmware", endpoint="page")
@login_required("admin")
def page_view():
    return render_template("admin_firmware.html", title=_("Firmware"), data=page_data(get_db()),
                           error=request.args.get("error"), offered=request.args.get("offered"),
                           version=request.args.get("version"))


@bp.post("/firmware/rollout")
@login_required("admin")
def rollout():
    f, db = request.form, get_db()
    version, target = (f.get("version") or "").strip(), f.get("target")
    kiosk, district = (f.get("kiosk") or "").strip(), (f.get("district") or "").strip()
    if not version:
        return _back(_("Choose a release."))
    if target == "kiosk" and not kiosk or target == "district" and not district:
        return _back(_("Choose the kiosk or the district to update."))
    if target not in ("kiosk", "district", "all"):
        return _back(_("Choose who gets the release: one kiosk, a district or every kiosk."))
    try:
        with transaction(db.conn):
            if target != "kiosk" and rollouts.confirmed_count(db.conn, version) == 0:
                return _back(_("Release %(v)s goes to one kiosk first: a district or every "
                               "kiosk only once a kiosk has confirmed it.", v=version))
            ids = rollouts.targets(db.conn, [kiosk] if target == "kiosk" else (),
                                   district if target == "district" else None,
                                   target == "all")
            offered = rollouts.offer(db.conn, version, ids, user=_actor())
            audit.record(db, "firmware-rollout", version=version, target=target,
                         kiosks=[k for k, _n in offered])
    except ValueError as e:
        return _back(str(e))
    return _back(offered=len(offered), version=version)


def _actor():
    return (g.get("user") or {}).get("name")


@twins.get("/firmware")
def firmware_json():
    f = filters(("district",))   # a bad district is a 400, as on every twin
    return jsonify(rollouts.report(get_db().conn, f.district))
