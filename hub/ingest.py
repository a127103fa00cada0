"""The hub's ingest: the ONLY code that writes taps (Datasette's "one writer").

Path of a message: the MQTT network thread (hub/mqtt_link.py) validates it once, at the edge,
through protocol/ (prepared(): its verdict) and queues it; a batch loop (hub/ingest_service.py)
takes everything queued (about BATCH_MAX messages) and hands the verdicts to one Writer, in a
child process or a thread. The Writer commits the whole batch in ONE transaction: new taps
(insert-or-ignore on (kiosk, seq)), their rollups, seq gaps, kiosk status and rejects. Only then
are the messages acknowledged to the broker, in arrival order (paho manual_ack), so a kill -9 at
any moment loses nothing (unacked messages are redelivered to our persistent session) and counts
nothing twice ((kiosk, seq) is the key). Under load batches grow by themselves; when idle each
message commits at once.

store(db, batch, received=None) is the library entry point for callers without MQTT (seeder,
tests): the same insert path, one transaction.
"""
import collections
import contextlib
import json
import logging
import sqlite3
import threading
import time

import sqlite_utils

import protocol
from hub import config_heal, gaps, registry, rollups
from hub.db import open_db

log = logging.getLogger("civic.ingest")

BATCH_MAX = 1000          # messages per transaction; bounds one commit's time and memory
REJECT_PAYLOAD_MAX = 4096  # what we keep of a refused payload, for diagnosis
CONFIG_POLL_S = 0.5        # how often kiosk_configs is checked for unpublished rows
CHECKPOINT_S = 1.0         # how often the WAL is copied back into the database file

# One received MQTT message. gen: the connection it arrived on (an ack only makes sense there).
Msg = collections.namedtuple("Msg", "topic payload retain received mid qos gen")


def kv(event, **fields):
    """A structured log line: event=... key=value ..., values quoted when they hold spaces."""
    parts = ["event=" + event]
    for k, v in fields.items():
        v = str(v)
        parts.append("%s=%s" % (k, json.dumps(v) if (" " in v or "=" in v or not v) else v))
    return " ".join(parts)


_topics = {}              # raw topic -> (kiosk, channel): parse_topic's verdict, remembered
_TOPICS_MAX = 100000      # about a city's kiosks times their channels, with room to spare


def _parse_topic(topic):
    hit = _topics.get(topic) if type(topic) in (bytes, str) else None
    if hit is None:
        hit = protocol.parse_topic(topic)
        if type(topic) in (bytes, str):
            if len(_topics) >= _TOPICS_MAX:
                _topics.clear()
            _topics[topic] = hit
    return hit


def classify(topic, payload):
    """-> ("taps", kiosk, (boot, rows, settled)) | ("status", kiosk, decoded) |
    ("reject", kiosk, reason), as protocol.decode_tap_batch gives them. Never raises: whatever arrives is either
    understood or refused with a reason."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    try:
        kiosk, channel = _parse_topic(topic)
    except protocol.ProtocolError as e:
        return ("reject", None, str(e))
    except Exception as e:  # a topic of the wrong type: still a reject, never a crash
        return ("reject", None, "topic: unreadable (%s)" % type(e).__name__)
    try:
        if channel == "taps":
            decoded = protocol.decode_tap_batch(payload)  # (boot, rows, settled)
            # The kiosk is named by the topic (the broker's ACL pins it); a payload that names
            # another one is forged or misrouted.
            if b'"kiosk"' in bytes(payload):
                named = json.loads(bytes(payload)).get("kiosk")
                if named != kiosk:
                    return ("reject", kiosk, "kiosk: payload says %r, topic says %r"
                            % (named, kiosk))
            return ("taps", kiosk, decoded)
        if channel == "status":
            return ("status", kiosk, protocol.decode_status(payload))
        return ("reject", kiosk, "topic: the hub does not ingest %s messages" % channel)
    except protocol.ProtocolError as e:
        return ("reject", kiosk, str(e))
    except Exception as e:  # e.g. a JSON nesting bomb: RecursionError
        return ("reject", kiosk, "bad-json: %s" % type(e).__name__)


@contextlib.contextmanager
def transaction(conn):
    """BEGIN IMMEDIATE ... COMMIT, or join the caller's open transaction."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _as_db(db):
    return db if isinstance(db, sqlite_utils.Database) else sqlite_utils.Database(db)


def _insert_taps(db, items):
    """items: [(kiosk, (boot, rows), received)], rows as protocol.decode_tap_rows gives them.
    Inside a transaction. -> (inserted, duplicates)."""
    conn = db.conn
    by_kiosk = {}
    seen = {}       # kiosk -> latest receive time, for kiosks.last_seen
    dups = 0
    for kiosk, decoded, received in items:
        boot, taps = decoded[0], decoded[1]   # (boot, rows) or (boot, rows, settled)
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
    db = _as_db(db)
    received = time.time() if received is None else received
    items = [(k, (d.get("boot"), [(t["seq"], t["ts"], t["kind"], t["value"], t["q"])
                                  for t in d["taps"]]), received) for k, d in batch]
    with transaction(db.conn):
        return _insert_taps(db, items)


class Writer:
    """Validates and commits batches of Msg. Owns one connection; used by one thread (in the
    service, that thread may live in a child process: hub/ingest_service.py)."""

    def __init__(self, db, background_checkpoints=False):
        self.db = open_db(db) if isinstance(db, str) else _as_db(db)
        # The broker forgets a message once we PUBACK it, so a commit must survive a power cut
        # of the hub, not only a crash of this process: fsync the WAL at every commit
        # (synchronous=NORMAL, the connection default, may lose the last commits on power
        # loss). Batching makes this cheap: one fsync per batch of up to BATCH_MAX messages.
        self.db.execute("PRAGMA synchronous=FULL")
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
            taps = [(v[1], v[2], received) for v, _r, received, _t, _p in items
                    if v[0] == "taps"]
            inserted, dups = _insert_taps(self.db, taps) if taps else (0, 0)
            for (what, kiosk, detail), retain, received, topic, payload in items:
                if what == "taps":
                    out.append(("taps", len(detail[1])))
                elif what == "status":
                    out.append(("status", registry.apply_status(conn, kiosk, detail, received,
                                                                retain)))
                    config_heal.check_status(conn, kiosk, detail)
                else:
                    conn.execute("INSERT INTO rejects (received, topic, kiosk, reason, payload) "
                                 "VALUES (?, ?, ?, ?, ?)",
                                 (int(received), _text(topic), kiosk, detail, _blob(payload)))
                    out.append(("reject", detail))
        summary = {"taps": 0, "status": 0, "reject": 0, "inserted": inserted,
                   "duplicates": dups, "seconds": time.perf_counter() - t0}
        for v in out:
            summary[v[0]] += 1
        if dups or summary["reject"]:
            log.info(kv("batch", messages=len(items), inserted=inserted, duplicates=dups,
                        rejects=summary["reject"]))
        return out, summary


def prepared(m):
    """A Msg validated for Writer.commit: (verdict, retain, received, topic, payload). The
    topic and payload are kept only for a reject (its row records them): the rest is in the
    verdict, so a writer in another process is sent only that."""
    v = classify(m.topic, m.payload)
    if v[0] == "reject":
        return (v, m.retain, m.received, m.topic, m.payload)
    return (v, m.retain, m.received, None, None)


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


def __getattr__(name):
    # hub.ingest.Ingest: the running service (MQTT link + writer thread), imported on first use
    # because it imports this module.
    if name == "Ingest":
        from hub.ingest_service import Ingest
        return Ingest
    raise AttributeError(name)
