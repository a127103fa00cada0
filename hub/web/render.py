"""Rendering a filtered staff page: the shared filter form's choices and the 400 page for a bad
filter. Each page module (overview.py, districts.py, ...) calls page() with its own query.
"""
import csv
import io

from flask import Response, jsonify, render_template, request

from hub.web.db import get_db
from hub.web.filters import BadParam, parse
from hub.web.i18n import current_lang

KIOSKS_LISTED = 500   # above this, the kiosk filter is a plain text field


def filter_options(db):
    """Choices for the filter form (districts, kiosks, questions)."""
    districts = [r[0] for r in db.execute(
        "SELECT DISTINCT district FROM kiosks WHERE district IS NOT NULL AND district != '' "
        "UNION SELECT name FROM districts ORDER BY 1").fetchall()]
    # A city has thousands of kiosks: the form takes an id typed in, and suggests ids only
    # while they are few enough to list.
    n = db.execute("SELECT count(*) FROM kiosks").fetchone()[0]
    kiosks = [r[0] for r in db.execute("SELECT id FROM kiosks ORDER BY id")] \
        if n <= KIOSKS_LISTED else []
    questions = db.execute("SELECT id, coalesce(CASE ? WHEN 'nl' THEN text_nl END, text_en) "
                           "FROM questions ORDER BY created DESC LIMIT 200",
                           [current_lang()]).fetchall()
    return {"districts": districts, "kiosks": kiosks, "questions": questions}


def page(template, data_fn, allowed=None, **extra):
    """Render a filtered page, or its 400 page when a filter is bad."""
    db = get_db()
    try:
        f = parse(request.args, allowed) if allowed else parse(request.args)
        data = data_fn(db, f)
    except BadParam as e:
        return render_template("error.html", message=str(e)), 400
    return render_template(template, f=f, data=data, options=filter_options(db), **extra)


def flat(row, prefix=""):
    """A nested dict as one level with dotted keys; lists joined with '; ' (for CSV)."""
    out = {}
    for k, v in row.items():
        key = prefix + str(k)
        if isinstance(v, dict):
            out.update(flat(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = "; ".join(str(x if not isinstance(x, (list, tuple)) else
                                     "-".join(map(str, x))) for x in v)
        else:
            out[key] = v
    return out


def respond(data, rows, name):
    """A JSON twin's answer: the data as JSON, or with ?format=csv its table (rows) as CSV, so
    every page's export button gives what the page shows."""
    fmt = request.args.get("format", "json")
    if fmt == "json":
        return jsonify(data)
    if fmt != "csv":
        raise BadParam("format: json or csv")
    flats = [flat(r) for r in rows]
    cols = []
    for r in flats:
        cols += [c for c in r if c not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(flats)
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=%s.csv" % name})
