"""Kiosk health for a city: GET /kiosks, its JSON twin GET /api/v1/kiosk-health, and the
registry list GET /api/v1/kiosks (in docs/API.md, every kiosk, filtered by district or id).

The page puts problems first (offline, refusing presses, crashed, clock not synced, queue
growing, config not applied, taps missing, firmware behind, firmware update failed), then the rest in natural order (haven-2 before haven-10); it filters by
district and state, searches by id and shows a page of PER_PAGE at a time, so 5,000 kiosks
stay one screen. Values that came with a kiosk's last status are marked as old when the kiosk
is offline: they say what it was, not what it is.
"""
import functools
import re
import time

from flask import Blueprint, jsonify, render_template, request, url_for

from hub.alerts.settings import silent_after
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.filters import BadParam, Filters
from hub.web.i18n import _
from hub.web.render import respond

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
    rows = sorted(db.execute(sql, args).fetchall(), key=lambda r: natural_key(r[0]))
    gaps = {}
    for kiosk, first, last in db.execute(
            "SELECT kiosk, first, last FROM seq_gaps ORDER BY kiosk, first").fetchall():
        gaps.setdefault(kiosk, []).append([first, last])
    wanted = dict(db.execute("SELECT kiosk, rev FROM kiosk_configs").fetchall())
    # Each kiosk's latest firmware offer (SQLite takes the bare columns from the max(n) row).
    updates = {k: {"version": v, "state": st, "reason": why, "crash": crash}
               for k, v, st, why, crash, _n in db.execute(
                   "SELECT kiosk, version, state, reason, crash, max(n) FROM fw_offers "
                   "GROUP BY kiosk")}
    silent_since = now - silent_after(db)   # the hub's own liveness rule (hub/alerts/rules.py)
    out = []
    for (kid, online, last_seen, queue, district, place, lat, lon, fw, filtered, config_rev,
         first_seen, status_ts, uptime, rssi, mem_free, refused, damaged, crash, synced) in rows:
        missing = gaps.get(kid, [])
        silent = bool(online) and (last_seen is None or last_seen < silent_since)
        online = bool(online) and not silent
        offline_for = None if online or last_seen is None else max(0, now - last_seen)
        out.append({
            "id": kid, "online": online, "silent": silent, "last_seen": last_seen, "queue": queue,
            "district": district, "place": place, "lat": lat, "lon": lon, "fw": fw,
            "filtered": filtered, "config_rev": config_rev, "config_rev_wanted": wanted.get(kid),
            "first_seen": first_seen, "uptime": uptime, "rssi": rssi, "mem_free": mem_free,
            "refused": refused, "damaged": damaged, "crash": crash, "update": updates.get(kid),
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


PER_PAGE = 50
STATES = ("problem", "offline", "online", "all")
QUEUE_GROWING = 100   # taps waiting on a kiosk's flash: more than a few minutes of sending


_DIGITS = re.compile(r"(\d+)")
_PARTS = re.compile(r"[.-]")


@functools.lru_cache(maxsize=65536)   # ids and versions repeat on every request
def natural_key(kiosk_id):
    """'haven-10' after 'haven-2': digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(kiosk_id))


def problems(k, newest_fw):
    """What is wrong with kiosk k, most serious first (codes the page translates)."""
    out = []
    if not k["online"]:
        out.append("offline")
    if k["refused"]:
        out.append("refusing")
    if k["crash_line"]:
        out.append("crash")
    if k["synced"] is False:
        out.append("clock")
    if (k["queue"] or 0) >= QUEUE_GROWING:
        out.append("queue")
    if k["config_rev_wanted"] is not None and k["config_rev"] != k["config_rev_wanted"]:
        out.append("config")
    if k["missing_count"]:
        out.append("missing")
    if newest_fw and k["fw"] and _version(k["fw"]) < newest_fw:
        out.append("firmware")
    if k["update"] and k["update"]["state"] in ("rolled_back", "failed"):
        out.append("update")
    return out


@functools.lru_cache(maxsize=1024)
def _version(v):
    return tuple(int(p) if p.isdigit() else 0 for p in _PARTS.split(v or ""))


def health(db, args, now=None, per_page=PER_PAGE):
    """The page's data: one page of kiosks, problems first, and the counts per state."""
    district = (args.get("district") or "").strip()
    state = args.get("state") or "all"
    search = (args.get("q") or "").strip().lower()
    if state not in STATES:
        raise BadParam("state: one of %s" % ", ".join(STATES))
    if len(search) > 32 or len(district) > 64:
        raise BadParam("q: at most 32 characters; district: at most 64")
    try:
        page_no = int(args.get("page") or 1)
    except ValueError:
        raise BadParam("page: a whole number from 1")
    if not 0 < page_no < 10 ** 6:
        raise BadParam("page: a whole number from 1")
    everyone = kiosk_list(db, Filters(district=district or None), now)
    newest = max((_version(k["fw"]) for k in everyone if k["fw"]), default=None)
    for k in everyone:
        k["problems"] = problems(k, newest)
        k["stale"] = not k["online"] and k["last_seen"] is not None
    counts = {"problem": sum(1 for k in everyone if k["problems"]),
              "offline": sum(1 for k in everyone if not k["online"]),
              "online": sum(1 for k in everyone if k["online"]), "all": len(everyone)}
    chosen = [k for k in everyone if (state == "all" or
                                      (state == "problem" and k["problems"]) or
                                      (state == "offline" and not k["online"]) or
                                      (state == "online" and k["online"]))
              and search in k["id"]]
    chosen.sort(key=lambda k: (not k["problems"], k["online"], natural_key(k["id"])))
    pages = max(1, -(-len(chosen) // per_page))
    page_no = min(page_no, pages)
    return {"kiosks": chosen[(page_no - 1) * per_page:page_no * per_page],
            "total": len(chosen), "page": page_no, "pages": pages, "per_page": per_page,
            "counts": counts, "filters": {"district": district or None, "state": state,
                                          "q": search or None}}


def _districts(db):
    return [r[0] for r in db.execute(
        "SELECT DISTINCT district FROM kiosks WHERE district IS NOT NULL AND district != '' "
        "UNION SELECT name FROM districts ORDER BY 1")]


@bp.get("/kiosks", endpoint="page")
@login_required()
def page_view():
    db = get_db()
    try:
        data = health(db, request.args)
    except BadParam as e:
        return render_template("error.html", message=str(e)), 400
    return render_template("kiosks.html", data=data, districts=_districts(db),
                           title=_("Kiosk health"), args=request.args,
                           twin=url_for("api.kiosk_health_json", **request.args))


@twins.get("/kiosk-health")
def kiosk_health_json():
    everything = request.args.get("format") == "csv"   # the export: every kiosk that matches
    data = health(get_db(), request.args, per_page=10 ** 6 if everything else PER_PAGE)
    return respond(data, data["kiosks"], "kiosk-health")


@twins.get("/kiosks")
def kiosks():
    return jsonify(kiosk_list(get_db(), filters(("district", "kiosk"))))
