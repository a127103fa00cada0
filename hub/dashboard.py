"""Staff pages (server-rendered), each with a JSON twin under /api/v1 that returns the same
data: Overview here; Districts, Kiosk health, Heatmap in hub/pages.py; Questions in
hub/questions.py; Alerts in hub/alerts.py. All take the shared filters (hub/filters.py).
"""
from flask import Blueprint, redirect, render_template, request, url_for

from hub import queries
from hub.api import bp as api
from hub.auth import login_required
from hub.db import get_db
from hub.filters import BadParam, parse
from hub.i18n import _

bp = Blueprint("dashboard", __name__)


def filter_options(db):
    """Choices for the filter form (districts, kiosks, questions)."""
    districts = [r[0] for r in db.execute(
        "SELECT DISTINCT district FROM kiosks WHERE district IS NOT NULL AND district != '' "
        "UNION SELECT name FROM districts ORDER BY 1").fetchall()]
    kiosks = [r[0] for r in db.execute("SELECT id FROM kiosks ORDER BY id").fetchall()]
    questions = [r[0] for r in db.execute("SELECT id FROM questions ORDER BY created DESC")]
    return {"districts": districts, "kiosks": kiosks, "questions": questions}


def page(template, data_fn, allowed=None, **extra):
    """Render a filtered page, or its 400 page when a filter is bad."""
    try:
        f = parse(request.args, allowed) if allowed else parse(request.args)
    except BadParam as e:
        return render_template("error.html", message=str(e)), 400
    db = get_db()
    return render_template(template, f=f, data=data_fn(db, f), options=filter_options(db),
                           **extra)


@bp.get("/")
def index():
    return redirect(url_for("dashboard.overview"))


@bp.get("/overview")
@login_required()
def overview():
    return page("overview.html", queries.overview, title=_("Overview"),
                twin=url_for("api.overview_json", **request.args))


@api.get("/overview")
def overview_json():
    from flask import jsonify
    f = parse(request.args)
    data = queries.overview(get_db(), f)
    data["filters"] = f.as_json()
    return jsonify(data)
