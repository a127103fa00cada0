"""The Kiosk health page (GET /kiosks) and its JSON twin (GET /api/v1/kiosks):
every kiosk's registry row, its missing seqs and whether it stands out as offline, and what
its firmware reports: presses refused, damaged records, the last crash, clock sync.
"""
import time

from flask import Blueprint, jsonify, request, url_for

from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import page

bp = Blueprint("kiosk_health", __name__)
twins = Twins()

OFFLINE_STANDS_OUT = 600  # seconds: an offline kiosk is highlighted after 10 minutes


def kiosk_list(db, f=None, now=None):
    now = int(now if now is not None else time.time())
    sql = ("SELECT id, online, last_seen, queue, district, place, lat, lon, fw, filtered, "
           "config_rev, first_seen, status_ts, uptime, rssi, mem_free, refused, damaged, crash, "
           "synced FROM kiosks WHERE 1")
    args = []
    if f is not None and f.district:
        sql += " AND district = ?"
        args.append(f.district)
    if f is not None and f.kiosk:
        sql += " AND id = ?"
        args.append(f.kiosk)
    rows = db.execute(sql + " ORDER BY id", args).fetchall()
    gaps = {}
    for kiosk, first, last in db.execute(
            "SELECT kiosk, first, last FROM seq_gaps ORDER BY kiosk, first").fetchall():
        gaps.setdefault(kiosk, []).append([first, last])
    wanted = dict(db.execute("SELECT kiosk, rev FROM kiosk_configs").fetchall())
    out = []
    for (kid, online, last_seen, queue, district, place, lat, lon, fw, filtered, config_rev,
         first_seen, status_ts, uptime, rssi, mem_free, refused, damaged, crash, synced) in rows:
        missing = gaps.get(kid, [])
        offline_for = None if online or last_seen is None else max(0, now - last_seen)
        out.append({
            "id": kid, "online": bool(online), "last_seen": last_seen, "queue": queue,
            "district": district, "place": place, "lat": lat, "lon": lon, "fw": fw,
            "filtered": filtered, "config_rev": config_rev, "config_rev_wanted": wanted.get(kid),
            "first_seen": first_seen, "uptime": uptime, "rssi": rssi, "mem_free": mem_free,
            "refused": refused, "damaged": damaged, "crash": crash,
            "crash_line": last_line(crash), "synced": None if synced is None else bool(synced),
            "missing": missing, "missing_count": sum(b - a + 1 for a, b in missing),
            "offline_seconds": offline_for,
            "stands_out": (not online) and (offline_for is None or
                                            offline_for > OFFLINE_STANDS_OUT),
        })
    return out


def last_line(crash):
    """The line of a traceback that says what went wrong (its last non-empty one)."""
    if not crash:
        return None
    lines = [l.strip() for l in crash.replace(" | ", "\n").splitlines() if l.strip()]
    return lines[-1] if lines else None


def _health(db, f):
    return {"kiosks": kiosk_list(db, f)}


@bp.get("/kiosks", endpoint="page")
@login_required()
def page_view():
    return page("kiosks.html", _health, ("district", "kiosk"), title=_("Kiosk health"),
                twin=url_for("api.kiosks", **request.args))


@twins.get("/kiosks")
def kiosks():
    return jsonify(kiosk_list(get_db(), filters(("district", "kiosk"))))
