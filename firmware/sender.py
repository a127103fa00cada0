"""The sending side of the kiosk: the queue drained at QoS 1, 50 taps a message at most.

A tap leaves the flash queue only when the broker has PUBACKed the message that carried it;
after a cut or a lost connection the unacknowledged taps simply go again (the hub counts
(kiosk, seq) once). Taps messages are written straight into the MQTT packet buffer, so a 4 KiB
message costs no allocation beyond its JSON pieces.
"""
import asyncio
import gc
import json
import time

import protocol
from tapq import FLAG_REL, NO_NAME

MAX_BATCH = 50


class Sender:
    def __init__(self, kiosk):
        self.k = kiosk
        self.q = kiosk.q
        self.clock = kiosk.clock
        self.measure = kiosk.settings.get("measure_heap", False)
        self.heap_peak = 0                 # live heap while a full batch is in hand
        self.stalled = False               # set by the sim's `stall`: a task stuck for good

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
            if self.q.merge_due():
                for _ in self.q.merge():
                    await asyncio.sleep_ms(0)  # presses go first
                continue
            m = self.k.mqtt
            if self.waiting_for_clock():
                m = None
            if not (m and m.connected and self.q.count):
                self.k.wake.clear()
                if not (m and m.connected and self.q.count):
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
        if self.clock.base is not None or self.q.count == 0:
            return False
        recs = self.q.peek(1)
        return bool(recs) and not self.sendable(recs)

    async def send_batch(self, m):
        recs = self.q.peek(MAX_BATCH)
        if not recs:
            self.q.count = 0
            return
        recs = self.sendable(recs)
        if not recs:
            return
        size, n = self.encode(recs, m.payload_buffer())
        if self.measure:
            gc.collect()
            self.heap_peak = max(self.heap_peak, gc.mem_alloc())
        try:
            await m.publish_buffer(self.k.topics["taps"], size, 1, False, 15000)
        except Exception as e:
            self.k.board.log("send failed: %r" % (e,))
            return
        done = recs[:n]
        self.q.ack(done)
        for r in done:
            self.k.board.sent(r[0])
        recs = done = None

    def encode(self, recs, out):
        """A taps message (protocol v1) written into `out` (the connection's packet buffer):
        as many of recs as fit in MAX_PAYLOAD bytes. -> (payload bytes, taps used)."""
        head = ('{"boot": %d, "taps": [' % self.k.boot).encode()
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
