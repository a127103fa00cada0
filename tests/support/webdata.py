"""Test data for the web tests: kiosks, and taps put in through hub/store/taps.py (the one
writer of taps: taps, rollups, seq gaps and last_seen in one transaction), as MQTT would."""
import time

from hub.store.connection import open_db
from hub.store.taps import store


def add_kiosk(db_path, kiosk, district=None, online=True, **fields):
    db = open_db(db_path)
    cols = dict(id=kiosk, district=district, online=int(online), last_seen=int(time.time()),
                first_seen=int(time.time()) - 86400)
    cols.update(fields)
    with db.conn:
        db.execute("INSERT INTO kiosks (%s) VALUES (%s)" % (", ".join(cols), ", ".join(
            "?" * len(cols))), list(cols.values()))
    db.conn.close()


def store_taps(db_path, kiosk, taps, boot=1):
    """taps: [(seq, ts, kind, value, q)] -> (inserted, duplicates), through hub/store/taps.py."""
    batch = [(kiosk, {"boot": boot, "taps": [
        {"seq": s, "ts": ts, "kind": k, "value": v, "q": q} for s, ts, k, v, q in taps]})]
    db = open_db(db_path)
    try:
        return store(db, batch)
    finally:
        db.conn.close()
