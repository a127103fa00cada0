"""Raw-tap exports for staff: GET /api/v1/export.csv and /api/v1/export.json, every tap the
filters select, one per line, streamed in chunks so a city's whole history never sits in memory.

The stream keeps the request's context (flask.stream_with_context), so it reads through the
request's one connection (hub/store/__init__.py) until its last row.
"""
import csv
import io
import json

from flask import Response, stream_with_context

from hub.store.days import day_start_ts
from hub.store.rollups import city_tz
from hub.web.api import Twins, filters
from hub.web.db import get_db

twins = Twins()
EXPORT_COLUMNS = ("kiosk", "seq", "ts", "kind", "value", "q", "ts_estimated", "received")
CHUNK = 5000


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


def _chunks(db, sql, args):
    cur = db.execute(sql, args)
    while True:
        rows = cur.fetchmany(CHUNK)
        if not rows:
            return
        yield rows


def _stream(generate, mimetype, filename):
    return Response(stream_with_context(generate()), mimetype=mimetype,
                    headers={"Content-Disposition": "attachment; filename=" + filename})


@twins.get("/export.csv")
def export_csv():
    f = filters()

    def generate():
        db = get_db()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        for rows in _chunks(db, *_tap_rows(db, f)):
            w.writerows(rows)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    return _stream(generate, "text/csv", "taps.csv")


@twins.get("/export.json")
def export_json():
    f = filters()

    def generate():
        db = get_db()
        yield '{"columns": %s, "taps": [' % json.dumps(EXPORT_COLUMNS)
        first = True
        for rows in _chunks(db, *_tap_rows(db, f)):
            chunk = ",\n".join(json.dumps(dict(zip(EXPORT_COLUMNS, r))) for r in rows)
            yield ("" if first else ",\n") + chunk
            first = False
        yield "]}\n"

    return _stream(generate, "application/json", "taps.json")
