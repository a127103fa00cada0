"""Receipts: after a commit, tell each kiosk which of its seqs the hub has committed.

A kiosk deletes a tap from its flash only when a receipt covers it (docs/PROTOCOL.md "Receipts"), so
a broker that PUBACKs a tap and then loses it (crash before a save, a new broker, a hub session
that did not exist yet) costs a resend, never a tap. The payload and its coalescing rules are
protocol/receipts.py; this class only keeps, per kiosk, what has been committed since the hub
started, and decides when to publish:

- coalesced: a kiosk's receipt goes out at most once per EVERY_S (a busy kiosk: a few a
  second), and at once after the commit when its last one is older (a quiet kiosk: one per
  batch);
- nothing is read from the database: a hub that restarts begins empty, and the kiosk's next
  taps message (resent, or its "settled" field) fills it again. A resent tap is a duplicate
  for the Writer, still committed, so it is receipted like a new one.

Pure (no MQTT, no clock of its own): the batch loop (hub/ingest/service.py) feeds committed
batches in and publishes what due() returns. Used by one thread.
"""
import protocol

EVERY_S = 0.25


class Receipts:
    def __init__(self, every_s=EVERY_S):
        self.every = every_s
        self.kiosks = {}    # kiosk -> [upto, ranges, monotonic time of its last receipt]
        self.dirty = {}     # kiosks with news not yet published (a dict: insertion order)

    def committed(self, kiosk, seqs, settled=None):
        """seqs (any order, repeats allowed) of this kiosk are committed; settled: the kiosk's
        own word that every seq <= it is settled (or None)."""
        st = self.kiosks.get(kiosk)
        if st is None:
            st = self.kiosks[kiosk] = [0, [], float("-inf")]
        up, rs = st[0], st[1]
        if settled is not None:
            up, rs = protocol.receipt_settle(up, rs, settled)
        lo = hi = None
        for s in seqs:            # runs of consecutive seqs: a 50-tap message is one range
            if hi is not None and s == hi + 1:
                hi = s
                continue
            if lo is not None:
                up, rs = protocol.receipt_add(up, rs, lo, hi)
            lo = hi = s
        if lo is not None:
            up, rs = protocol.receipt_add(up, rs, lo, hi)
        st[0], st[1] = up, rs
        self.dirty[kiosk] = True

    def note_batch(self, items):
        """A committed batch of hub.ingest.prepared items: feed its taps messages in."""
        kiosks, dirty = self.kiosks, self.dirty
        for p in items:
            v = p[0]
            if v[0] != "taps":
                continue
            d = v[2]
            rows = d[1]
            settled = d[2] if len(d) > 2 else None
            if len(d) > 3:   # taps the hub refused for good (validate.py): settled too
                self.committed(v[1], d[3], settled)
                continue
            st = kiosks.get(v[1])
            # Fast path, most messages under load: one tap, next after upto, no ranges held.
            if st is not None and len(rows) == 1 and not st[1] and (settled or 0) <= st[0] \
                    and 0 <= rows[0][0] - st[0] <= 1:
                st[0] = rows[0][0]
                dirty[v[1]] = True
                continue
            self.committed(v[1], [r[0] for r in rows], settled)

    def due(self, now):
        """-> [(kiosk, payload)] to publish now; those kiosks are clean until their next news."""
        out = []
        for k in list(self.dirty):
            st = self.kiosks[k]
            if now - st[2] >= self.every:
                out.append((k, protocol.encode_receipt(st[0], st[1])))
                st[2] = now
                del self.dirty[k]
        return out

    def wait(self, now, longest):
        """Seconds until the next receipt is due, at most `longest`."""
        w = longest
        for k in self.dirty:
            w = min(w, self.kiosks[k][2] + self.every - now)
        return max(0.0, w)

    def again(self, kiosk):
        """A publish that could not go out: due again EVERY_S after the try."""
        if kiosk in self.kiosks:
            self.dirty[kiosk] = True

    def all_again(self):
        """The broker lost its retained messages (a session that was not present): every kiosk's
        receipt goes out again at once, so kiosks waiting on one need not wait for a resend."""
        for k in self.kiosks:
            self.dirty[k] = True
            self.kiosks[k][2] = float("-inf")
