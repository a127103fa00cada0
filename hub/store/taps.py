"""Storing taps: the one insert path, used by the ingest's writer (hub/ingest/writer.py) inside
its batch transaction and by callers without MQTT (the seeder, tests) through store().

New taps are insert-or-ignore on (kiosk, seq), so a redelivered tap is counted once; only the
new ones are rolled up (rollups.py) and fill or open seq gaps (gaps.py), and the kiosks that
sent them are marked seen (registry.py), all in the caller's transaction.
"""
import json
import time

import sqlite_utils

from hub.store import gaps, registry, retention, rollups
from hub.store.connection import transaction


def as_db(db):
    return db if isinstance(db, sqlite_utils.Database) else sqlite_utils.Database(db)


def insert_taps(db, items):
    """items: [(kiosk, (boot, rows), received)], rows as protocol.decode_tap_rows gives them.
    Inside a transaction. -> (inserted, duplicates)."""
    conn = db.conn
    by_kiosk = {}
    seen = {}       # kiosk -> latest receive time, for kiosks.last_seen
    dups = 0
    for kiosk, decoded, received in items:
        boot, taps = decoded[0], decoded[1]   # (boot, rows) or (boot, rows, settled, ...)
        rows = by_kiosk.get(kiosk)
        if rows is None:
            rows = by_kiosk[kiosk] = {}
        rec = int(received)
        if rec > seen.get(kiosk, 0):
            seen[kiosk] = rec
        for seq, ts, kind, value, q in taps:
            if seq in rows:
                dups += 1
            elif ts is None:
                rows[seq] = (kiosk, seq, rec, kind, value, q, 1, boot, rec)
            else:
                rows[seq] = (kiosk, seq, ts, kind, value, q, 0, boot, rec)
    fresh = []
    max_seq = "SELECT max(seq) FROM taps WHERE kiosk = ?"
    for kiosk, rows in by_kiosk.items():
        seqs = sorted(rows)
        prev_max = conn.execute(max_seq, (kiosk,)).fetchone()[0]
        # taps pruned by retention.py are still counted once: their seqs stay duplicates
        pruned, floor = retention.duplicates_below_floor(conn, kiosk, seqs)
        if floor is not None:
            dups += len(pruned)
            seqs = [s for s in seqs if s not in pruned]
            prev_max = floor if prev_max is None else max(prev_max, floor)
            if not seqs:
                continue
        if prev_max is not None and seqs[0] <= prev_max:
            # only seqs at or below the highest stored one can be redeliveries
            low = [s for s in seqs if s <= prev_max]
            have = {r[0] for r in conn.execute(
                "SELECT seq FROM taps WHERE kiosk = ? AND seq IN (SELECT value FROM json_each(?))",
                (kiosk, json.dumps(low)))}
            dups += len(have)
            seqs = [s for s in seqs if s not in have]
        gaps.update(conn, kiosk, prev_max, seqs)
        fresh.extend([rows[s] for s in seqs])
    conn.executemany("INSERT OR IGNORE INTO taps (kiosk, seq, ts, kind, value, q, ts_estimated, "
                     "boot, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", fresh)
    rollups.apply(db, fresh)
    registry.touch(conn, seen)
    return len(fresh), dups


def store(db, batch, received=None):
    """batch: [(kiosk_id, decoded)] with decoded from protocol.decode_taps. One transaction:
    insert-or-ignore the taps, roll up the new ones, keep seq_gaps and kiosks.last_seen.
    -> (inserted, duplicates)."""
    db = as_db(db)
    received = time.time() if received is None else received
    items = [(k, (d.get("boot"), [(t["seq"], t["ts"], t["kind"], t["value"], t["q"])
                                  for t in d["taps"]]), received) for k, d in batch]
    with transaction(db.conn):
        return insert_taps(db, items)
