"""Rendering a filtered staff page: the shared filter form's choices and the 400 page for a bad
filter. Each page module (overview.py, districts.py, ...) calls page() with its own query.
"""
from flask import render_template, request

from hub.web.db import get_db
from hub.web.filters import BadParam, parse


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
