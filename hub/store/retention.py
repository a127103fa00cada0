"""Retention: how long raw data is kept (docs/OPEN_DATA.md). Aggregates are kept for ever.

Settings (table settings, numbers; 0 = no limit):
  retention_taps_days     raw taps older than this are deleted (default 0: keep them)
  retention_rejects_days  rejects older than this (default 30); retention_rejects_max rows at most
  retention_events_days   kiosk_events older than this (default 90); retention_events_max rows
A tap is pruned per kiosk by seq: every tap at or below the highest seq S whose taps are all
older than the limit. Its counts move to rollup_pruned (so rollups.rebuild() still counts
them) and S to pruned_seqs: a redelivered tap at or below S is a duplicate, unless its seq is in
an open gap (seq_gaps: never received), so (kiosk, seq) is still counted exactly once.

prune() is run by `civic prune` and by Housekeeping, the background loop of `civic serve`;
never by a request. Library functions take the caller's connection.
"""
import logging
import threading
import time

from hub.common.logs import kv
from hub.store.connection import open_db, transaction

log = logging.getLogger("civic.retention")
DAY = 86400
DEFAULTS = {"retention_taps_days": 0, "retention_rejects_days": 30,
            "retention_rejects_max": 100000, "retention_events_days": 90,
            "retention_events_max": 100000}


def settings(db):
    out = dict(DEFAULTS)
    for k, v in db.execute("SELECT key, value FROM settings WHERE key LIKE 'retention_%'"):
        if k in out and v not in (None, ""):
            out[k] = int(v)
    return out


def save(db, values):
    for k, v in values.items():
        if k not in DEFAULTS or int(v) < 0:
            raise ValueError("%s: not a retention setting, or negative" % k)
    with transaction(db.conn):
        for k, v in values.items():
            db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                       "DO UPDATE SET value = excluded.value", [k, str(int(v))])


def duplicates_below_floor(conn, kiosk, seqs):
    """For the tap writer: (seqs of this batch that were pruned already, the kiosk's floor)."""
    row = conn.execute("SELECT max_seq FROM pruned_seqs WHERE kiosk = ?", (kiosk,)).fetchone()
    if not row:
        return set(), None
    floor = row[0]
    dups = set()
    for s in seqs:
        if s <= floor and not conn.execute(
                "SELECT 1 FROM seq_gaps WHERE kiosk = ? AND first <= ? AND last >= ?",
                (kiosk, s, s)).fetchone():
            dups.add(s)
    return dups, floor


def _prune_taps(db, cutoff):
    conn, n = db.conn, 0
    for kiosk, old_max in conn.execute(
            "SELECT kiosk, max(seq) FROM taps WHERE ts < ? GROUP BY kiosk", (cutoff,)).fetchall():
        with transaction(conn):
            newer = conn.execute("SELECT min(seq) FROM taps WHERE kiosk = ? AND ts >= ?",
                                 (kiosk, cutoff)).fetchone()[0]
            top = old_max if newer is None else min(old_max, newer - 1)
            conn.execute(
                "INSERT INTO rollup_pruned (hour, kiosk, kind, value, q, n) "
                "SELECT ts - ts % 3600, kiosk, kind, value, coalesce(q, ''), count(*) FROM taps "
                "WHERE kiosk = ? AND seq <= ? GROUP BY 1, 2, 3, 4, 5 "
                "ON CONFLICT (hour, kiosk, kind, value, q) DO UPDATE SET n = n + excluded.n",
                (kiosk, top))
            n += conn.execute("DELETE FROM taps WHERE kiosk = ? AND seq <= ?",
                              (kiosk, top)).rowcount
            conn.execute("INSERT INTO pruned_seqs (kiosk, max_seq) VALUES (?, ?) ON CONFLICT "
                         "(kiosk) DO UPDATE SET max_seq = max(max_seq, excluded.max_seq)",
                         (kiosk, top))
    return n


def _prune_log(db, table, col, cutoff, keep):
    with transaction(db.conn):
        n = db.execute("DELETE FROM %s WHERE %s < ?" % (table, col), [cutoff]).rowcount \
            if cutoff is not None else 0
        if keep:
            n += db.execute("DELETE FROM %s WHERE id <= (SELECT id FROM %s ORDER BY id DESC "
                            "LIMIT 1 OFFSET ?)" % (table, table), [keep]).rowcount
    return n


def prune(db, now=None):
    """Delete what the settings say is too old. -> {"taps": n, "rejects": n, "kiosk_events": n}"""
    now = time.time() if now is None else now
    s = settings(db)
    days = lambda k: now - s[k] * DAY if s[k] else None  # noqa: E731
    return {
        "taps": _prune_taps(db, days("retention_taps_days")) if s["retention_taps_days"] else 0,
        "rejects": _prune_log(db, "rejects", "received", days("retention_rejects_days"),
                              s["retention_rejects_max"]),
        "kiosk_events": _prune_log(db, "kiosk_events", "ts", days("retention_events_days"),
                                   s["retention_events_max"]),
    }


class Housekeeping:
    """`civic serve`'s background loop: prune() now and every EVERY_S seconds, with its own
    connection. A failed round is logged and tried again next time."""
    EVERY_S = 3600.0

    def __init__(self, db_path, every_s=EVERY_S):
        self.db_path, self.every_s = db_path, every_s
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="civic-housekeeping", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self):
        db = open_db(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    log.info(kv("pruned", **prune(db)))
                    self.rounds += 1
                except Exception as e:  # keep the loop alive; the next round tries again
                    log.error(kv("prune_failed", error=repr(e)))
                self._stop.wait(self.every_s)
        finally:
            db.conn.close()
