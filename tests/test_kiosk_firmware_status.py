"""What a kiosk's firmware reports reaches the staff (issue 12): presses refused, damaged
records and the last crash are decoded and stored, shown by /api/v1/kiosks and Kiosk health,
and alerts open for a kiosk that refuses presses, crash-loops, has not synced its clock, or
whose queue does not go down."""
import json
import time

from hub.alerts.rules import evaluate
from hub.store import registry
from hub.store.connection import open_db
from protocol import v1
from tests.test_api_core import auth

NOW = int(time.time())
CRASH = ("Traceback (most recent call last): |   File \"app.py\", line 96, in press | "
         "ZeroDivisionError: divide by zero | ")


def status(**kw):
    d = {"online": True, "fw": "1.0.0", "boot": 1, "uptime": 100, "queue": 0,
         "mem_free": 50000, "rssi": -60, "config_rev": 2, "filtered": 1, "ts": NOW,
         "refused": 0, "damaged": 0, "synced": True, "crash": None}
    d.update(kw)
    return v1.decode_status(json.dumps(d))


def apply(db_path, kiosk, st, at):
    db = open_db(db_path)
    try:
        with db.conn:
            registry.apply_status(db.conn, kiosk, st, at)
    finally:
        db.conn.close()


def test_status_decoding_keeps_refused_damaged_crash_and_sync():
    """Before: decode_status dropped all four, so a kiosk turning citizens away looked fine."""
    st = status(refused=7, damaged=2, crash="x" * 300 + "OSError: 5", synced=False)
    assert st["refused"] == 7 and st["damaged"] == 2 and st["synced"] is False
    assert st["crash"].endswith("OSError: 5") and len(st["crash"]) == v1.CRASH_MAX
    for bad in ({"refused": -1}, {"damaged": "2"}, {"crash": 5}, {"synced": "yes"}):
        try:
            status(**bad)
        except v1.ProtocolError:
            continue
        raise AssertionError("accepted %r" % (bad,))


def test_kiosks_api_and_health_page_show_the_firmware_status(client, db_path):
    apply(db_path, "k-1", status(refused=4, damaged=1, crash=CRASH, uptime=7300), NOW)
    apply(db_path, "k-1", status(refused=4, damaged=1, crash=None, uptime=7400,
                                 ts=NOW + 100), NOW + 100)
    k = [x for x in client.get("/api/v1/kiosks", headers=auth(db_path)).json
         if x["id"] == "k-1"][0]
    assert (k["fw"], k["uptime"], k["config_rev"], k["filtered"]) == ("1.0.0", 7400, 2, 1)
    assert (k["refused"], k["damaged"], k["synced"]) == (4, 1, True)
    assert k["crash"] == CRASH  # the last crash is kept once the kiosk stops reporting it
    page = client.get("/kiosks", headers=auth(db_path))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "ZeroDivisionError: divide by zero" in html and "Refused presses" in html


def test_alerts_for_refusing_crash_looping_unsynced_a_stuck_queue_and_a_wiped_flash(db_path):
    apply(db_path, "ok-1", status(ts=NOW - 600), NOW - 600)
    apply(db_path, "ref-1", status(refused=0, ts=NOW - 600), NOW - 600)
    apply(db_path, "ref-1", status(refused=3, ts=NOW - 60), NOW - 60)
    for boot in (1, 2, 3):
        apply(db_path, "loop-1", status(boot=boot, crash=CRASH, uptime=5,
                                        ts=NOW - 600 + boot), NOW - 600 + boot)
    apply(db_path, "clock-1", status(synced=False, uptime=1800), NOW - 60)
    apply(db_path, "q-1", status(queue=5, ts=NOW - 3600), NOW - 3600)
    apply(db_path, "q-1", status(queue=9, ts=NOW - 60), NOW - 60)
    apply(db_path, "wiped-1", status(boot=40, ts=NOW - 600), NOW - 600)
    apply(db_path, "wiped-1", status(boot=1, ts=NOW - 60), NOW - 60)  # its flash was formatted
    db = open_db(db_path)
    try:
        evaluate(db, NOW)
        opened = {(k, s) for k, s in db.execute(
            "SELECT kind, subject FROM alerts WHERE closed IS NULL")}
        assert opened == {("refusing", "ref-1"), ("crash-loop", "loop-1"),
                          ("clock-unsynced", "clock-1"), ("queue-growing", "q-1"),
                          ("flash-reset", "wiped-1")}, opened
        # The queue goes down, the clock syncs: those alerts end; the others stay open.
        apply(db_path, "q-1", status(queue=2, ts=NOW + 10), NOW + 10)
        apply(db_path, "clock-1", status(synced=True, uptime=1900, ts=NOW + 10), NOW + 10)
        evaluate(db, NOW + 20)
        still = {(k, s) for k, s in db.execute(
            "SELECT kind, subject FROM alerts WHERE closed IS NULL")}
        assert still == {("refusing", "ref-1"), ("crash-loop", "loop-1"),
                         ("flash-reset", "wiped-1")}, still
    finally:
        db.conn.close()
