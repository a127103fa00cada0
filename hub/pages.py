"""Districts, Kiosk health and Heatmap pages, with their JSON twins under /api/v1."""
from flask import Blueprint, jsonify, request, url_for

from hub import pages_queries
from hub.api import bp as api
from hub.auth import login_required
from hub.dashboard import page
from hub.db import get_db
from hub.filters import parse
from hub.i18n import _
from hub.kiosk_queries import kiosk_list

bp = Blueprint("pages", __name__)


def _twin(endpoint):
    return url_for(endpoint, **request.args)


@bp.get("/districts")
@login_required()
def districts():
    return page("districts.html", pages_queries.districts, title=_("Districts"),
                twin=_twin("api.districts_json"))


@api.get("/districts")
def districts_json():
    return jsonify(pages_queries.districts(get_db(), parse(request.args)))


def _health(db, f):
    return {"kiosks": kiosk_list(db, f)}


@bp.get("/kiosks")
@login_required()
def kiosks():
    return page("kiosks.html", _health, ("district", "kiosk"), title=_("Kiosk health"),
                twin=_twin("api.kiosks"))


@bp.get("/heatmap")
@login_required()
def heatmap():
    return page("heatmap.html", pages_queries.heatmap, title=_("Heatmap"),
                twin=_twin("api.heatmap_json"))


@api.get("/heatmap")
def heatmap_json():
    return jsonify(pages_queries.heatmap(get_db(), parse(request.args)))
