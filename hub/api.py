"""The JSON API under /api/v1 (documented in docs/API.md and /api/v1/openapi.json).

Every route needs a staff session or `Authorization: Bearer TOKEN` (401 JSON otherwise),
except /api/v1/open/... which is public (hub/opendata.py). Bad parameters: 400 + message.
"""
import csv
import io
import json

from flask import Blueprint, Response, current_app, g, jsonify, request

from hub import queries
from hub.db import connect, get_db
from hub.filters import BadParam, day_start_ts, parse
from hub.kiosk_queries import kiosk_list
from hub.rollups import city_tz

bp = Blueprint("api", __name__, url_prefix="/api/v1")
EXPORT_COLUMNS = ("kiosk", "seq", "ts", "kind", "value", "q", "ts_estimated", "received")


@bp.before_request
def need_staff():
    # CONTRACT section 4: everything under /api/v1 is staff-only except the open data.
    if request.path.startswith("/api/v1/open/"):
        return None
    if g.get("user") is None:
        resp = jsonify(error="authentication required: log in or send "
                             "'Authorization: Bearer TOKEN'")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="civic"'
        return resp
    return None


@bp.errorhandler(BadParam)
def bad_param(e):
    return jsonify(error=str(e)), 400


def filters(allowed=None):
    return parse(request.args, allowed) if allowed else parse(request.args)


@bp.get("/summary")
def summary():
    f = filters(("from", "to", "district", "kiosk", "question"))
    return jsonify(queries.summary(get_db(), f))


@bp.get("/kiosks")
def kiosks():
    f = filters(("district", "kiosk"))
    return jsonify(kiosk_list(get_db(), f))


def _tap_rows(db, f):
    sql, args = "SELECT %s FROM taps WHERE 1" % ", ".join(EXPORT_COLUMNS), []
    tz = city_tz(db)
    if f.start is not None:
        sql += " AND ts >= ?"
        args.append(day_start_ts(f.start, tz))
    if f.end is not None:
        sql += " AND ts < ?"
        args.append(day_start_ts(f.end + 1, tz))
    if f.kiosk:
        sql += " AND kiosk = ?"
        args.append(f.kiosk)
    if f.district:
        sql += " AND kiosk IN (SELECT id FROM kiosks WHERE district = ?)"
        args.append(f.district)
    if f.question:
        sql += " AND q = ?"
        args.append(f.question)
    return sql + " ORDER BY kiosk, seq", args


def _stream_rows(sql, args):
    # The export outlives the request's connection (it streams), so it reads on its own.
    return _rows_from(current_app.config["DATABASE"], sql, args)


def _rows_from(path, sql, args):
    db = connect(path, readonly=True)
    try:
        cur = db.execute(sql, args)
        while True:
            rows = cur.fetchmany(5000)
            if not rows:
                return
            yield rows
    finally:
        db.conn.close()


@bp.get("/export.csv")
def export_csv():
    f = filters()
    chunks = _stream_rows(*_tap_rows(get_db(), f))

    def generate():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        for rows in chunks:
            w.writerows(rows)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    return Response(generate(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=taps.csv"})


@bp.get("/export.json")
def export_json():
    f = filters()
    chunks = _stream_rows(*_tap_rows(get_db(), f))

    def generate():
        yield '{"columns": %s, "taps": [' % json.dumps(EXPORT_COLUMNS)
        first = True
        for rows in chunks:
            chunk = ",\n".join(json.dumps(dict(zip(EXPORT_COLUMNS, r))) for r in rows)
            yield ("" if first else ",\n") + chunk
            first = False
        yield "]}\n"

    return Response(generate(), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=taps.json"})
