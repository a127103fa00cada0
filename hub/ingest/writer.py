"""The ingest's Writer: the ONLY code that writes taps (Datasette's "one writer").

It commits a batch of validated messages (hub/ingest/validate.py) in ONE transaction: new taps
through hub/store/taps.py (insert-or-ignore on (kiosk, seq), their rollups and seq gaps),
kiosk status through hub/store/registry.py, and a `rejects` row with its reason for each
refused message. Only after that commit does the service acknowledge the batch to the broker
(hub/ingest/service.py), so a kill -9 at any moment loses nothing and counts nothing twice.
The Writer runs in a child process or a thread: hub/ingest/committers.py.
"""
import logging
import sqlite3
import threading
import time

import protocol

from hub.common.logs import kv
from hub.ingest import config_heal
from hub.ingest.known import Known
from hub.ingest.validate import prepared
from hub.store import registry
from hub.store.connection import open_db, transaction
from hub.store.taps import as_db, insert_taps
from hub.updates import rollouts

log = logging.getLogger("civic.ingest")

BATCH_MAX = 1000          # messages per transaction; bounds one commit's time and memory
REJECT_PAYLOAD_MAX = 4096  # what we keep of a refused payload, for diagnosis
CHECKPOINT_S = 1.0         # how often the WAL is copied back into the database file


class Writer:
    """Validates and commits batches of Msg. Owns one connection; used by one thread (in the
    service, that thread may live in a child process: hub/ingest/service.py)."""

    def __init__(self, db, background_checkpoints=False):
        self.db = open_db(db) if isinstance(db, str) else as_db(db)
        # The broker forgets a message once we PUBACK it, so a commit must survive a power cut
        # of the hub, not only a crash of this process: fsync the WAL at every commit
        # (synchronous=NORMAL, the connection default, may lose the last commits on power
        # loss). Batching makes this cheap: one fsync per batch of up to BATCH_MAX messages.
        self.db.execute("PRAGMA synchronous=FULL")
        self.known = Known()  # the skills and questions a tap may name (hub/ingest/known.py)
        if background_checkpoints and isinstance(db, str):
            _start_checkpointer(db, self.db)

    def process(self, msgs):
        """Validate and commit Msgs: commit() of their classify() verdicts."""
        return self.commit([prepared(m) for m in msgs])

    def commit(self, items):
        """One transaction for all items, as prepared() makes them. -> (outcomes, summary): per
        message ("taps", n) | ("status", changed) | ("reject", reason), and the counts for
        metrics. Raises only on a database error (then nothing was committed and nothing may be
        acknowledged)."""
        t0 = time.perf_counter()
        conn = self.db.conn
        out = []
        with transaction(conn):
            self.known.new_batch()
            checked = [self._check(v) if v[0] == "taps" else v for v, *_ in items]
            taps = [(v[1], v[2], received) for v, (_v, _r, received, _t, _p)
                    in zip(checked, items) if v[0] == "taps" and v[2][1]]
            inserted, dups = insert_taps(self.db, taps) if taps else (0, 0)
            for v, (_v, retain, received, topic, payload) in zip(checked, items):
                what, kiosk, detail = v[:3]
                if what == "taps" and len(v) > 3 and v[3]:
                    # some taps of the message could not be stored: a reject row of their own
                    self._reject(received, topic, kiosk, v[3], payload)
                if what == "taps" and not detail[1]:
                    out.append(("reject", v[3]))
                elif what == "taps":
                    out.append(("taps", len(detail[1])))
                elif what == "status":
                    out.append(("status", registry.apply_status(conn, kiosk, detail, received,
                                                                retain)))
                    config_heal.check_status(conn, kiosk, detail)
                    rollouts.apply_progress(conn, kiosk, detail, received)
                    if len(v) > 3:   # its firmware-update field was refused: a reject row
                        self._reject(received, topic, kiosk, v[3], payload)
                elif what == "fetch":
                    out.append(("fetch", None))   # answered by hub/ingest/fw_offers.py
                else:
                    self._reject(received, topic, kiosk, detail, payload)
                    out.append(("reject", detail))
        summary = {"taps": 0, "status": 0, "reject": 0, "fetch": 0, "inserted": inserted,
                   "duplicates": dups, "seconds": time.perf_counter() - t0}
        for v in out:
            summary[v[0]] += 1
        if dups or summary["reject"]:
            log.info(kv("batch", messages=len(items), inserted=inserted, duplicates=dups,
                        rejects=summary["reject"]))
        return out, summary


    def _check(self, v):
        """A taps verdict with what the hub does not know left out or cleared (known.py)."""
        rows = v[2][1]
        kept, reason = self.known.check(self.db.conn, rows)
        if reason is None and kept is rows:
            return v
        reason = v[3] if len(v) > 3 and v[3] else reason
        return ("taps", v[1], (v[2][0], kept) + tuple(v[2][2:]), reason)

    def _reject(self, received, topic, kiosk, reason, payload):
        if topic is None and kiosk:  # a taps verdict keeps no topic: it is the kiosk's taps
            topic = "%s/%s/taps" % (protocol.ROOT, kiosk)
        self.db.conn.execute("INSERT INTO rejects (received, topic, kiosk, reason, payload) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (int(received), _text(topic), kiosk, reason, _blob(payload)))


def _start_checkpointer(path, db):
    """Move WAL checkpoints off the commit path. SQLite normally checkpoints inside the commit
    that crosses 1000 WAL pages, which costs that batch several milliseconds of copying and
    fsync (measured: a third of the commit time under load). A thread with its own connection
    runs a PASSIVE checkpoint every second instead (SQLite releases the GIL meanwhile); the
    writer keeps an automatic checkpoint at 20000 pages (80 MB) as a safety net only."""
    db.execute("PRAGMA wal_autocheckpoint=20000")

    def run():
        conn = sqlite3.connect(path, timeout=30)
        while True:
            time.sleep(CHECKPOINT_S)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as e:
                log.warning(kv("checkpoint_failed", error=repr(e)))
    threading.Thread(target=run, name="civic-checkpoint", daemon=True).start()


def _text(topic):
    if isinstance(topic, (bytes, bytearray)):
        return bytes(topic).decode("utf-8", "replace")
    return topic if isinstance(topic, str) else repr(topic)


def _blob(payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "replace")
    return bytes(payload)[:REJECT_PAYLOAD_MAX] if payload is not None else None
