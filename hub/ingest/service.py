"""The running ingest: an MQTT link feeding one writer (the path: hub/ingest/__init__.py).

The network thread takes a socket read's worth of messages at a time (hub/ingest/mqtt_drain.py),
validates them (hub/ingest/validate.py) and queues them. The batch loop (a thread here) takes
everything queued, about BATCH_MAX messages, has the verdicts committed by the Writer, then acks
the batch in arrival order with one write. So validation of the next messages runs while the
Writer commits the previous batch. The Writer runs either
- in a child process (mode "process", what `civic serve`/`civic ingest` use): SQLite then runs
  beside the network side instead of under the same GIL (bench/ingest measures both); batches
  travel over a pipe as verdicts, the next one waiting while one commits, and the child answers
  with counts; if it dies, a new one takes the batches again; or
- in this process (mode "thread": simpler, used by tests that need no extra process).
See hub/ingest/committers.py.
What the hub holds received and not yet committed is bounded (HOLD_MAX_BYTES): beyond it the
network thread waits for the next commit, and the broker keeps the rest queued for our
persistent session. So memory stays bounded whatever the broker's in-flight window is.
The loop also has the kiosks' configs published (hub/ingest/configs.py; hub/ingest/config_heal.py
clears the published mark when a config needs to go again), and after each commit the kiosks'
receipts (hub/ingest/receipts.py), coalesced; and firmware updates: offers published, and the
kiosks' fetches answered with chunks before their batch goes to the writer
(hub/ingest/fw_offers.py).
"""
import collections
import logging
import queue
import threading
import time

import protocol
from hub.common.logs import kv
from hub.ingest.committers import ProcessCommitter, ThreadCommitter, WriterDied
from hub.ingest.configs import CONFIG_POLL_S, ConfigPublisher
from hub.ingest.fw_offers import FirmwareOffers
from hub.ingest.metrics import Metrics
from hub.ingest.mqtt_link import MqttLink
from hub.ingest.receipts import Receipts
from hub.ingest.validate import prepared
from hub.ingest.writer import BATCH_MAX

log = logging.getLogger("civic.ingest")

# Received and not yet committed, at most: payload bytes plus MSG_OVERHEAD per message (the
# Msg, its verdict and the queue). 32 MB is about 100,000 one-tap messages: room for many
# batches, so the network thread only waits when the writer really is behind.
HOLD_MAX_BYTES = 32 * 1024 * 1024
MSG_OVERHEAD = 300
# Batches at the writer at once: one being committed, the next waiting in its pipe.
WRITER_DEPTH = 2


class _Event:
    """A note to the batch loop that is not a message: stop, wake, a config published."""

    def __init__(self, what, *args):
        self.what, self.args = what, args


_STOP = _Event("stop")


def _held_size(msgs):
    return sum([len(m.payload) for m in msgs]) + MSG_OVERHEAD * len(msgs)


class Ingest:
    def __init__(self, db, broker, user=None, password=None, client_id="civic-hub",
                 share=None, batch_max=BATCH_MAX, mode="thread", ca=None):
        self.db_path = db
        self.mode = mode
        self.metrics = Metrics()
        self.batch_max = batch_max
        self.q = queue.Queue()          # lists of (prepared, Msg), and _Events
        self._waiting = 0               # messages received and not yet committed
        self._held = 0                  # their size, as counted against HOLD_MAX_BYTES
        self._room = threading.Condition()
        self.committer = None
        self.configs = ConfigPublisher(self.metrics)
        self.firmware = FirmwareOffers(self.metrics)   # batch loop thread only
        self.link = MqttLink(broker, self._received, user=user, password=password,
                             client_id=client_id, share=share, ca=ca,
                             on_connected=self._connected, on_published=self._published)
        self.receipts = Receipts()  # batch thread only
        self._thread = None
        self.error = None

    # -- what /healthz and /metrics read --------------------------------------------------
    @property
    def connected(self):
        return self.link.connected

    def queue_depth(self):
        return self._waiting

    def _received(self, msgs):
        """On the network thread: validate a list of messages (hub/ingest/validate.py), count and
        queue them, each as (its prepared form, the Msg to acknowledge)."""
        items = [(prepared(m), m) for m in msgs]
        size = _held_size(msgs)
        with self._room:
            while self._held and self._held + size > HOLD_MAX_BYTES and not self.link.stopping:
                self._room.wait(1.0)    # the writer is behind: wait for its next commit
            self._held += size
            self._waiting += len(items)
        self.q.put(items)

    def health(self):
        m = self.metrics
        return {"connected": self.connected, "queue": self._waiting, "writer_mode": self.mode,
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
        self.configs.open(self.db_path)
        self.firmware.open(self.db_path)
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
        self.configs.close()
        self.firmware.close()
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
        carry = []                       # what did not fit into the last batch
        inflight = collections.deque()   # batches sent to the writer, not yet committed
        while True:
            batch, carry, stop = self._gather(carry, wait=not inflight)
            if batch:
                self.firmware.serve(batch, self.link)   # fetches answered at once
                self.committer.send([p for p, _m in batch])
                inflight.append(batch)
            if stop:
                if carry:
                    self.committer.send([p for p, _m in carry])
                    inflight.append(carry)
                while inflight and self._finish(inflight):
                    pass
                return
            # Wait for the oldest batch when the writer holds WRITER_DEPTH of them, or when
            # there is nothing new to send meanwhile.
            if inflight and (not batch or len(inflight) >= WRITER_DEPTH):
                if not self._finish(inflight):
                    return                # stopping, batch not committed: never acked
            self.configs.publish_due(self.link)
            self.firmware.publish_due(self.link)
            self._publish_receipts()

    def _gather(self, carry, wait):
        """-> (batch of at most batch_max messages, the rest, stop seen). Blocks (up to
        CONFIG_POLL_S, or until the next receipt is due) only when wait and nothing is at hand."""
        batch, stop = carry or [], False
        try:
            timeout = CONFIG_POLL_S    # or less when a coalesced receipt falls due sooner
            if self.link.connected:
                timeout = self.receipts.wait(time.monotonic(), CONFIG_POLL_S)
            item = self.q.get(timeout=timeout) if wait and not batch and timeout > 0 \
                else self.q.get_nowait()
        except queue.Empty:
            item = None
        while item is not None:
            if isinstance(item, _Event):
                if item.what == "stop":
                    stop = True
                elif item.what == "published":
                    done = self.configs.acked(item.args[0])
                    if done:
                        self.configs.mark_published(*done)
                    else:
                        self.firmware.acked(item.args[0])
                elif item.what == "connected":
                    self.configs.resend()   # publishes of the old connection go again
                    self.firmware.resend()
                    if not item.args[0]:
                        self._broker_forgot()
            else:
                batch.extend(item)   # carry is a fresh list (a slice) each time
            if len(batch) >= self.batch_max:
                break
            try:
                item = self.q.get_nowait()
            except queue.Empty:
                item = None
        # At most batch_max per commit, so that while one batch is committed the next
        # messages keep arriving within the broker's in-flight window (5 batches).
        return batch[:self.batch_max], batch[self.batch_max:], stop

    def _finish(self, inflight):
        """Wait until the oldest batch is committed, then acknowledge it. -> False when the
        hub is stopping and the batch was not committed (the broker redelivers it)."""
        batch = inflight[0]
        while True:
            try:
                status, detail = self.committer.receive()
            except WriterDied:
                self.metrics.db_errors += 1
                if self.link.stopping:
                    return False
                try:
                    self.committer.restart([[p for p, _m in b] for b in inflight])
                except Exception as e:  # e.g. the database cannot be opened: try again
                    log.error(kv("writer_restart_failed", error=repr(e)))
                    time.sleep(1)
                continue
            if status == "ok":
                break
            self.metrics.db_errors += 1   # database locked or full: the writer tries again
            log.error(kv("commit_failed", messages=len(batch), error=detail))
            if self.link.stopping:
                return False
        inflight.popleft()
        self.metrics.record(detail)
        self.receipts.note_batch([p for p, _m in batch])
        msgs = [m for _p, m in batch]
        self.link.ack(msgs)  # arrival order, as MQTT expects
        with self._room:
            self._held -= _held_size(msgs)
            self._waiting -= len(msgs)
            self._room.notify_all()
        return True

    # -- configs for the kiosks: the publisher's state lives on this loop's thread ----------
    # The network thread only hands over: paho calls on_publish holding its own message lock,
    # which publish() takes too, so a lock of ours taken on both threads deadlocked the ingest
    # (the flaky end-to-end failure: a kiosk never got its pushed question).
    def _connected(self):
        self.q.put(_Event("connected", self.link.session_present))

    def _published(self, mid):
        self.q.put(_Event("published", mid))

    # -- receipts, and healing what a broker forgot ------------------------------------------
    def _publish_receipts(self):
        if not self.link.connected or not self.receipts.dirty:
            return
        for kiosk, payload in self.receipts.due(time.monotonic()):
            if self.link.publish(protocol.topic(kiosk, "receipt"), payload, retain=True) is None:
                self.receipts.again(kiosk)
            else:
                self.metrics.receipts_published += 1

    def _broker_forgot(self):
        """session_present=0: the broker may have lost its retained configs and receipts too."""
        n = self.configs.republish_all()
        offers = self.firmware.republish_all()
        self.receipts.all_again()
        log.info(kv("broker_session_lost", configs_again=n, fw_offers_again=offers,
                    receipts_again=len(self.receipts.kiosks)))
