"""The running ingest: an MQTT link feeding one writer (see hub/ingest.py for the path).

The network thread only queues messages. The batch loop (a thread here) takes everything queued,
has it committed by the Writer, then acks it in arrival order. The Writer runs either
- in a child process (mode "process", what `civic serve`/`civic ingest` use): validation and
  SQLite then run beside paho's Python code instead of under the same GIL, so the network side
  costs about what a bare subscriber costs (bench/ingest measures it); batches travel over a
  pipe and the child answers with counts; if it dies, a new one takes the batch again; or
- in this process (mode "thread": simpler, used by tests that need no extra process).
The queue is bounded (QUEUE_MAX): if the writer falls behind, the network thread waits for at most
the batch being committed, and the broker keeps the rest queued for our persistent session.
The loop also publishes kiosk_configs rows not yet published (retained, QoS 1) and marks them
published on the broker's PUBACK.
"""
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time

import protocol
from hub.db import open_db
from hub.ingest import BATCH_MAX, CONFIG_POLL_S, Msg, Writer, kv, transaction
from hub.metrics import Metrics
from hub.mqtt_link import MqttLink

log = logging.getLogger("civic.ingest")

# At least the broker's max_inflight_messages (hub/deploy/mosquitto.conf: 5000), so with our
# broker settings the network thread never waits; with a bigger window, at most one batch.
QUEUE_MAX = 5 * BATCH_MAX


class _Event:
    """A note to the batch loop that is not a message: stop, wake, a config published."""

    def __init__(self, what, *args):
        self.what, self.args = what, args


_STOP = _Event("stop")


class ThreadCommitter:
    def __init__(self, db_path):
        self.writer = Writer(db_path, background_checkpoints=True)

    def commit(self, batch):
        return self.writer.process(batch)[1]

    def close(self):
        self.writer.db.conn.close()


def _child_main(db_path):
    """The writer process (`python -m hub.ingest_service DB`): pickled batches in on stdin,
    summaries out on stdout, until stdin closes. Ctrl-C and SIGTERM reach the whole process
    group; the parent decides when this ends (it commits the batch it holds first), and a
    parent killed outright closes the pipe, which ends this too."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from hub.serve import setup_logging
    setup_logging()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    writer = Writer(db_path, background_checkpoints=True)
    while True:
        try:
            rows = pickle.load(inp)
        except (EOFError, OSError):
            return
        if rows is None:
            return
        try:
            summary = writer.process([Msg(t, p, r, rc, 0, 0, 0) for t, p, r, rc in rows])[1]
            reply = ("ok", summary)
        except Exception as e:
            reply = ("error", repr(e))
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


class ProcessCommitter:
    """Runs the Writer in a child process started with subprocess (not multiprocessing, whose
    spawn would re-import whatever script started the hub)."""

    def __init__(self, db_path):
        self.db_path = db_path
        open_db(db_path).conn.close()  # migrate once here, so errors show in this process
        self._start()

    def _start(self):
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "hub.ingest_service", self.db_path],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        log.info(kv("writer_process", pid=self.proc.pid))

    def commit(self, batch):
        try:
            pickle.dump([(bytes(m.topic), m.payload, m.retain, m.received) for m in batch],
                        self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            status, detail = pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            log.error(kv("writer_process_died", exitcode=self.proc.poll()))
            self._kill()
            self._start()
            raise RuntimeError("writer process died; batch will be retried")
        if status != "ok":
            raise RuntimeError(detail)
        return detail

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self):
        try:
            pickle.dump(None, self.proc.stdin)
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill()
        self.proc.stdout.close()


class Ingest:
    def __init__(self, db, broker, user=None, password=None, client_id="civic-hub",
                 share=None, batch_max=BATCH_MAX, mode="thread"):
        self.db_path = db
        self.mode = mode
        self.metrics = Metrics()
        self.batch_max = batch_max
        self.q = queue.Queue(maxsize=QUEUE_MAX)
        self.committer = None
        self.link = MqttLink(broker, self.q.put, user=user, password=password,
                             client_id=client_id, share=share,
                             on_connected=self._configs_due, on_published=self._published)
        self._pending = {}          # mid -> (kiosk, rev) of config publishes awaiting PUBACK
        self._lock = threading.Lock()
        self._configs_at = 0.0      # next time kiosk_configs is checked
        self._thread = None
        self.error = None

    # -- what /healthz and /metrics read --------------------------------------------------
    @property
    def connected(self):
        return self.link.connected

    def queue_depth(self):
        return self.q.qsize()

    def health(self):
        m = self.metrics
        return {"connected": self.connected, "queue": self.q.qsize(), "writer_mode": self.mode,
                "taps": m.taps_ingested, "duplicates": m.taps_duplicate,
                "rejects": m.messages["reject"], "batches": m.batches,
                "last_batch_ms": round(m.last_batch_seconds * 1000, 2),
                "writer": "running" if self._thread and self._thread.is_alive() else "stopped"}

    # -- lifecycle -----------------------------------------------------------------------
    def prepare(self):
        """Open the database and start the writer (start() does it if not done yet)."""
        if self.committer is None:
            self.committer = (ProcessCommitter if self.mode == "process" else
                              ThreadCommitter)(self.db_path)

    def start(self):
        self.prepare()
        self.db = open_db(self.db_path)  # this side's connection: kiosk_configs only
        self._thread = threading.Thread(target=self._run, name="civic-batches", daemon=True)
        self._thread.start()
        self.link.start()
        log.info(kv("ingest_started", db=self.db_path, mode=self.mode,
                    broker="%s:%s" % (self.link.host, self.link.port)))
        return self

    def stop(self, timeout=10):
        """Stop taking messages, commit and ack what was taken, then disconnect."""
        self.link.stopping = True
        self.q.put(_STOP)
        if self._thread:
            self._thread.join(timeout)
        self.link.stop()
        if self.committer:
            self.committer.close()
        self.db.conn.close()
        log.info(kv("ingest_stopped", taps=self.metrics.taps_ingested,
                    duplicates=self.metrics.taps_duplicate,
                    rejects=self.metrics.messages["reject"]))

    # -- the batch loop ------------------------------------------------------------------
    def _run(self):
        try:
            self._loop()
        except Exception as e:  # pragma: no cover - a bug; make it visible in health
            self.error = repr(e)
            log.exception(kv("batch_loop_crashed", error=repr(e)))

    def _loop(self):
        while True:
            try:
                item = self.q.get(timeout=CONFIG_POLL_S)
            except queue.Empty:
                item = None
            batch, stop = [], False
            while item is not None:
                if isinstance(item, _Event):
                    if item.what == "stop":
                        stop = True
                    elif item.what == "published":
                        self._mark_published(*item.args)
                else:
                    batch.append(item)
                if len(batch) >= self.batch_max:
                    break
                try:
                    item = self.q.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self._commit(batch)
            if stop:
                return
            if time.monotonic() >= self._configs_at:
                self._publish_configs()

    def _commit(self, batch):
        while True:
            try:
                summary = self.committer.commit(batch)
                break
            except Exception as e:  # database locked/full, writer died: keep it, never ack it
                self.metrics.db_errors += 1
                log.error(kv("commit_failed", messages=len(batch), error=repr(e)))
                if self.link.stopping:
                    return  # unacked: the broker redelivers the batch to our next session
                time.sleep(1)
        self.metrics.record(summary)
        for m in batch:  # arrival order, as MQTT expects
            self.link.ack(m)

    # -- configs for the kiosks ------------------------------------------------------------
    def _configs_due(self):
        with self._lock:
            self._pending.clear()   # publishes of the old connection are resent below
        self._configs_at = 0.0
        try:
            self.q.put_nowait(_Event("wake"))
        except queue.Full:
            pass

    def _publish_configs(self):
        self._configs_at = time.monotonic() + CONFIG_POLL_S
        if not self.link.connected:
            return
        rows = self.db.execute("SELECT kiosk, rev, payload FROM kiosk_configs "
                               "WHERE published IS NULL ORDER BY updated").fetchall()
        for kiosk, rev, payload in rows:
            with self._lock:
                if (kiosk, rev) in self._pending.values():
                    continue
                try:
                    t = protocol.topic(kiosk, "config")
                except protocol.ProtocolError as e:
                    log.error(kv("config_skipped", kiosk=kiosk, error=str(e)))
                    continue
                mid = self.link.publish(t, payload.encode(), retain=True)
                if mid is not None:
                    self._pending[mid] = (kiosk, rev)

    def _published(self, mid):
        with self._lock:
            done = self._pending.pop(mid, None)
        if done:
            self.q.put(_Event("published", *done))

    def _mark_published(self, kiosk, rev):
        with transaction(self.db.conn):
            self.db.execute("UPDATE kiosk_configs SET published = ? WHERE kiosk = ? AND rev = ? "
                            "AND published IS NULL", [int(time.time()), kiosk, rev])
        self.metrics.configs_published += 1
        log.info(kv("config_published", kiosk=kiosk, rev=rev))


if __name__ == "__main__":
    _child_main(sys.argv[1])
