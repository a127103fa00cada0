"""Firmware updates, the ingest's part (docs/UPDATES.md): offers out, files out in chunks.

Offers: the CLI and the web only record fw_offers rows with pub_due = 1
(hub/updates/rollouts.py); this publisher, driven by the batch loop as configs are
(hub/ingest/configs.py), signs each with the kiosk's update key (protocol/updates.py
sign_offer) and publishes it retained at QoS 1 on civic/v1/<kiosk>/update, or publishes the
empty payload that withdraws it once the update ended, so the broker holds no stale offers.
The row is marked on the broker's PUBACK, for the generation (pub_gen) that was sent: a state
that changed meanwhile is published again.

Files: each fetch (civic/v1/<kiosk>/fetch, validated at the edge by hub/ingest/validate.py)
is answered with one chunk (QoS 0: a lost one costs the kiosk a retry) read from the release
in memory (the last CACHE_RELEASES releases asked for), only for the release currently offered
to that kiosk. Anything else gets a chunk error and a rejects row with the reason (recorded by
the Writer: the fetch's verdict becomes a reject). A kiosk may fetch at most RATE a second
(a bucket of BURST): what is beyond is dropped, one rejects row a minute says so.
Batch loop thread only, like the config publisher.
"""
import collections
import logging
import time

import protocol
from protocol import updates as pu
from hub.common.logs import kv
from hub.ingest.configs import PolledPublisher
from hub.store.connection import transaction
from hub.updates import releases, rollouts, update_keys

log = logging.getLogger("civic.ingest")

RATE = 64.0           # fetches a second per kiosk, sustained: 128 KB/s of chunks
BURST = 64            # and at once (a small release in one go)
DROP_REPORT_S = 60    # at most one rejects row a minute per kiosk for dropped fetches
CACHE_RELEASES = 4


class FirmwareOffers(PolledPublisher):
    def __init__(self, metrics):
        super().__init__(metrics)   # _pending: mid -> (kiosk, n, pub_gen) awaiting PUBACK
        self._files = collections.OrderedDict()   # version -> [bytes]: the release cache
        self._buckets = {}      # kiosk -> [tokens, monotonic time of the last refill]
        self._dropped = {}      # kiosk -> [dropped since the last report, time of that report]

    # -- offers out ------------------------------------------------------------------------
    def republish_all(self):
        with transaction(self.db.conn):
            n = rollouts.republish_all(self.db.conn)
        self._due_at = 0.0
        return n

    def publish_due(self, link):
        if not self.check_due(link):
            return
        rows = self.db.execute("SELECT kiosk, n, version, state, pub_gen FROM fw_offers "
                               "WHERE pub_due = 1").fetchall()
        waiting = set(self._pending.values())
        for kiosk, n, version, state, gen in rows:
            if (kiosk, n, gen) in waiting:
                continue
            try:
                payload = b"" if state in rollouts.ENDED else self._signed(kiosk, n, version)
                t = protocol.topic(kiosk, "update")
            except (protocol.ProtocolError, ValueError) as e:
                log.error(kv("fw_offer_skipped", kiosk=kiosk, n=n, error=str(e)))
                continue
            mid = link.publish(t, payload, retain=True)
            if mid is not None:
                self._pending[mid] = (kiosk, n, gen)

    def _signed(self, kiosk, n, version):
        key = update_keys.key_of(self.db.conn, kiosk)
        manifest = releases.manifest_of(self.db.conn, version)
        if key is None or manifest is None:
            raise ValueError("no update key or no release %s" % version)
        return pu.encode_offer(pu.sign_offer(kiosk, dict(manifest, n=n), key))

    def acked(self, mid):
        """The PUBACK of mid: -> True when it was one of ours (then marked published)."""
        done = self._pending.pop(mid, None)
        if done is None:
            return False
        kiosk, n, gen = done
        with transaction(self.db.conn):
            self.db.execute("UPDATE fw_offers SET pub_due = 0, published = ? WHERE kiosk = ? "
                            "AND n = ? AND pub_gen = ?", [int(time.time()), kiosk, n, gen])
        log.info(kv("fw_offer_published", kiosk=kiosk, n=n))
        return True

    # -- files out -------------------------------------------------------------------------
    def serve(self, batch, link):
        """Answer the fetches of a batch (items as hub.ingest.validate.prepared makes them);
        each fetch's verdict becomes ("fetch", kiosk, None) when answered or dropped, or a
        reject with its reason for the Writer to record."""
        for i, item in enumerate(batch):
            p = item[0]
            v = p[0]
            if v[0] != "fetch" or v[2] is None:
                continue
            reason = self._answer(v[1], v[2], link)
            verdict = ("fetch", v[1], None) if reason is None else ("reject", v[1], reason)
            batch[i] = ((verdict,) + tuple(p[1:]),) + tuple(item[1:])

    def _answer(self, kiosk, fetch, link):
        """-> None (answered, or dropped unreported) or the reason to record."""
        if not self._take(kiosk):
            return self._drop(kiosk)
        cur = rollouts.current(self.db.conn, kiosk)
        v, n = fetch["v"], fetch["n"]
        if cur is None or cur[1] != v or cur[0] != n or cur[2] in rollouts.ENDED:
            self._send(link, kiosk, pu.encode_chunk_error(v, "not offered"))
            self.metrics.fw_fetch_refused += 1
            return "fetch: release %s offer %d is not offered to this kiosk" % (v, n)
        files = self._release(v)
        f, off = fetch["f"], fetch["off"]
        if f >= len(files) or off >= len(files[f]):
            self._send(link, kiosk, pu.encode_chunk_error(v, "no such piece"))
            self.metrics.fw_fetch_refused += 1
            return "fetch: release %s has no file %d at offset %d" % (v, f, off)
        data = files[f][off:off + fetch["len"]]
        self._send(link, kiosk, pu.encode_chunk(v, f, off, data))
        self.metrics.fw_chunks += 1
        return None

    def _send(self, link, kiosk, payload):
        link.publish(protocol.topic(kiosk, "chunk"), payload, retain=False, qos=0)

    def _release(self, version):
        files = self._files.pop(version, None)
        if files is None:
            files = releases.files_of(self.db.conn, version)
            while len(self._files) >= CACHE_RELEASES:
                self._files.popitem(last=False)
        self._files[version] = files   # most recently used last
        return files

    def _take(self, kiosk):
        now = time.monotonic()
        b = self._buckets.get(kiosk)
        if b is None:
            b = self._buckets[kiosk] = [float(BURST), now]
        b[0] = min(float(BURST), b[0] + (now - b[1]) * RATE)
        b[1] = now
        if b[0] < 1.0:
            return False
        b[0] -= 1.0
        return True

    def _drop(self, kiosk):
        now = time.monotonic()
        d = self._dropped.setdefault(kiosk, [0, float("-inf")])
        d[0] += 1
        self.metrics.fw_fetch_dropped += 1
        if now - d[1] < DROP_REPORT_S:
            return None
        n, d[0], d[1] = d[0], 0, now
        return "fetch: more than %d a second from this kiosk; %d dropped" % (int(RATE), n)
