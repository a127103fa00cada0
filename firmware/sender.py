"""The sending side of the kiosk: the queue drained at QoS 1, 50 taps a message at most.

A tap leaves the flash queue only when a receipt from the hub covers it (the hub committed it):
a broker's PUBACK only moves the send cursor on. Taps PUBACKed and still not covered RESEND_MS
after the last progress are sent again, the wait doubling up to RESEND_MAX_MS (a hub that is
down is not flooded), so a broker that PUBACKs and then loses a message costs a resend, never
a tap; the hub counts (kiosk, seq) once. Taps messages are written straight into the MQTT
packet buffer, so a 4 KiB message costs no allocation beyond its JSON pieces.
"""
import asyncio
import gc
import json
import time

import protocol
from tapq import FLAG_REL, NO_NAME

MAX_BATCH = 50
RESEND_MS = 5000        # PUBACKed, not receipted this long after the last progress: send again
RESEND_MAX_MS = 60000


class Sender:
    def __init__(self, kiosk):
        self.k = kiosk
        self.q = kiosk.q
        self.clock = kiosk.clock
        self.measure = kiosk.settings.get("measure_heap", False)
        self.heap_peak = 0                 # live heap while a full batch is in hand
        self.stalled = False               # set by the sim's `stall`: a task stuck for good
        self.sent = 0        # send cursor: queued taps <= sent were PUBACKed (or are covered)
        self.sent_n = 0      # queued taps in (q.done, sent]: waiting for a receipt
        self.receipt = None  # the latest receipt (upto, ranges), applied by this task only
        self.receipt_new = False
        self.receipts = True  # False: the broker refused the subscription (old ACL)
        s = kiosk.settings
        self.resend_min = s.get("resend_ms", RESEND_MS)
        self.resend_max = s.get("resend_max_ms", RESEND_MAX_MS)
        self.resend_ms = self.resend_min
        self.wait_from = time.ticks_ms()

    def on_receipt(self, payload):
        """A receipt arrived (the MQTT reader calls this): kept, applied by run()."""
        try:
            self.receipt = protocol.decode_receipt(payload)
        except protocol.ProtocolError as e:
            self.k.board.log("receipt refused: %s" % e)
            return
        self.receipt_new = True
        self.k.wake.set()

    def reconnected(self, receipts=True):
        # A new connection: what is not covered goes again RESEND_MS from now.
        self.resend_ms = self.resend_min
        self.wait_from = time.ticks_ms()
        if not receipts and self.receipts:
            # A broker whose ACL predates receipts (`civic broker config` not run again):
            # without this the queue would never drain and the kiosk would refuse presses.
            self.k.board.log("receipts refused by the broker: a PUBACK deletes, as before")
        self.receipts = receipts

    def covered(self, seq):
        return self.receipt is not None and protocol.receipt_covers(self.receipt, seq)

    def unsent(self):
        return self.q.count - self.sent_n

    async def settle(self):
        q = self.q
        count, done = q.count, q.done
        for _ in q.settle(self.covered):
            await asyncio.sleep_ms(0)  # presses go first
        if q.done > done:
            self.resend_ms = self.resend_min   # the hub is committing: back to the short wait
            self.wait_from = time.ticks_ms()
        if q.done >= self.sent:
            self.sent = q.done
            self.sent_n = 0
        else:
            self.sent_n = max(0, self.sent_n - (count - q.count))

    def resend_due(self):
        if not self.sent_n or \
                time.ticks_diff(time.ticks_ms(), self.wait_from) < self.resend_ms:
            return False
        self.k.board.log("no receipt for %d taps: sending again from %d"
                         % (self.sent_n, self.q.done + 1))
        self.sent = self.q.done
        self.sent_n = 0
        self.resend_ms = min(self.resend_ms * 2, self.resend_max)
        self.wait_from = time.ticks_ms()
        return True

    def tap_dict(self, r):
        """A stored record -> the TAP of protocol v1, its time resolved now."""
        seq, t, boot, flags, name = r
        btn = flags & 0x0F
        names = self.q.names
        nm = names[name] if name != NO_NAME and name < len(names) else None
        ts = self.clock.resolve(t, boot, flags & FLAG_REL)
        if ts is not None and not protocol.MIN_TS <= ts <= protocol.MAX_TS:
            ts = None  # a clock that was plainly wrong: better unknown than false
        if btn < 4:
            return {"seq": seq, "ts": ts, "kind": "mood", "value": btn + 1, "q": nm}
        return {"seq": seq, "ts": ts, "kind": "skill", "value": nm, "q": None}

    async def run(self):
        while True:
            while self.stalled:
                await asyncio.sleep_ms(100)  # alive but no progress: no life sign either
            self.k.alive["sender"] = time.ticks_ms()
            if self.receipt_new:
                self.receipt_new = False
                await self.settle()
                continue
            if self.q.merge_due():
                for _ in self.q.merge():
                    await asyncio.sleep_ms(0)  # presses go first
                continue
            m = self.k.mqtt
            if self.waiting_for_clock():
                m = None
            if m and m.connected:
                self.resend_due()
            if not (m and m.connected and self.unsent() > 0):
                self.k.wake.clear()
                if not (m and m.connected and self.unsent() > 0) and not self.receipt_new:
                    try:
                        await asyncio.wait_for_ms(self.k.wake.wait(), 1000)
                    except asyncio.TimeoutError:
                        pass
                continue
            await self.send_batch(m)

    def sendable(self, recs):
        """Taps of this boot pressed before the clock is known wait for the first sync (up to
        time_hold_s of uptime), so they go out with their true time rather than null."""
        if self.clock.base is not None or \
                self.clock.uptime() >= self.k.settings.get("time_hold_s", 300):
            return recs
        boot = self.k.boot & 0xFFFF
        for i in range(len(recs)):
            if recs[i][2] == boot and recs[i][3] & FLAG_REL:
                return recs[:i]
        return recs

    def waiting_for_clock(self):
        if self.clock.base is not None or self.unsent() <= 0:
            return False
        recs = self.q.peek(1, self.sent)
        return bool(recs) and not self.sendable(recs)

    async def send_batch(self, m):
        """Send the next taps after the cursor; covered ones are passed over."""
        try:
            recs = self.q.peek(MAX_BATCH, self.sent)
        except MemoryError:
            # Opening a queue file takes a ~1.2 KB file object, and a long drain can leave no
            # hole that big for a moment (about one 10,000-tap drain in eight under a 128K
            # heap). peek only reads: drop it, let the other tasks free what they hold, and
            # come back, rather than crash and reboot.
            gc.collect()
            await asyncio.sleep_ms(50)
            return
        if not recs:
            self.sent_n = self.q.count   # nothing left to send: all of it waits for a receipt
            return
        recs = self.sendable(recs)
        if not recs:
            return
        if self.receipt is not None:   # covered above a hole: no need to send those again
            todo = [r for r in recs if not self.covered(r[0])]
            if not todo:
                self.moved(recs[-1][0], len(recs))
                return
        else:
            todo = recs
        size, n = self.encode(todo, m.payload_buffer())
        if self.measure:
            gc.collect()
            self.heap_peak = max(self.heap_peak, gc.mem_alloc())
        try:
            await m.publish_buffer(self.k.topics["taps"], size, 1, False, 15000)
        except Exception as e:
            self.k.board.log("send failed: %r" % (e,))
            return
        done = todo[:n]
        last = done[-1][0]
        self.moved(last, len([r for r in recs if r[0] <= last]))
        if not self.receipts:
            self.receipt = (last, [])   # the PUBACK stands in for a receipt
            self.receipt_new = True
        for r in done:
            self.k.board.sent(r[0])
        recs = todo = done = None

    def moved(self, seq, n):
        """The cursor passes seq: n more queued taps wait for a receipt."""
        if not self.sent_n:
            self.wait_from = time.ticks_ms()   # the wait for a receipt starts now
        self.sent = max(self.sent, seq)
        self.sent_n += n

    def encode(self, recs, out):
        """A taps message (protocol v1) written into `out` (the connection's packet buffer):
        as many of recs as fit in MAX_PAYLOAD bytes. -> (payload bytes, taps used)."""
        head = ('{"boot": %d, "settled": %d, "taps": [' % (self.k.boot, self.q.done)).encode()
        n = len(head)
        out[:n] = head
        used = 0
        for r in recs:
            t = json.dumps(self.tap_dict(r)).encode()
            sep = 2 if used else 0
            if n + sep + len(t) + 2 > protocol.MAX_PAYLOAD:
                break
            if sep:
                out[n:n + 2] = b", "
                n += 2
            out[n:n + len(t)] = t
            n += len(t)
            used += 1
        out[n:n + 2] = b"]}"
        return n + 2, used
