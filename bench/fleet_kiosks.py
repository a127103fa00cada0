"""The simulated kiosks of bench/fleet: thousands of light MQTT clients in one process.

Each kiosk connects over TLS with its own account (client id = kiosk id, clean session, a
retained last will), subscribes to its config (QoS 1) and receipt (QoS 0) as the firmware does,
then until the end time publishes a retained status every STATUS_EVERY seconds and taps at
random (one QoS 1 taps message per tap, as the firmware sends a fresh press). A tap is kept
until a receipt covers it and sent again after a reconnect. Prints "ready N SECONDS FAILED"
once connected, reads "go END" on stdin, then prints "done {...}" and writes the acked seqs of
each kiosk to --out (JSON).
"""
import argparse
import asyncio
import json
import os
import random
import resource
import ssl
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import protocol  # noqa: E402
from mqtt_lite import LiteClient, MqttError  # noqa: E402

CONNECTS_AT_ONCE = 100      # TLS handshakes in flight in this process


class Kiosk:
    def __init__(self, kid, password):
        self.kid, self.password = kid, password
        self.seq = 0
        self.pending = {}      # seq -> payload, until a receipt covers it
        self.acked = set()
        self.receipt = None
        self.client = None
        self.reconnects = 0
        self.t = {ch: protocol.topic(kid, ch) for ch in protocol.CHANNELS}

    def on_message(self, topic, payload):
        if topic == self.t["receipt"]:
            try:
                r = protocol.decode_receipt(payload)
            except protocol.ProtocolError:
                return
            for s in [s for s in self.pending if protocol.receipt_covers(r, s)]:
                del self.pending[s]

    async def connect(self, host, port, ctx):
        c = LiteClient(self.kid, self.kid, self.password, keepalive=20,
                       will=(self.t["status"], protocol.encode_status(False), 1, True),
                       on_message=self.on_message)
        await c.connect(host, port, ssl=ctx)
        await c.subscribe([(self.t["config"], 1), (self.t["receipt"], 0)])
        self.client = c
        for s in sorted(self.pending):           # unreceipted taps go again, as on a kiosk
            self._send(s, self.pending[s])

    def _send(self, seq, payload):
        f = self.client.publish(self.t["taps"], payload, 1)
        f.add_done_callback(lambda f, s=seq: f.exception() or self.acked.add(s))

    def tap(self):
        self.seq += 1
        t = {"seq": self.seq, "ts": int(time.time()), "kind": "mood",
             "value": random.randint(1, 4), "q": None}
        if self.seq % 3 == 0:
            t = {"seq": self.seq, "ts": t["ts"], "kind": "skill", "value": "basics", "q": None}
        payload = protocol.encode_taps(1, [t])
        self.pending[self.seq] = payload
        if self.client and self.client.connected:
            self._send(self.seq, payload)

    def status(self, started):
        if self.client and self.client.connected:
            self.client.publish(self.t["status"], protocol.encode_status(
                True, fw="bench", boot=1, uptime=int(time.time() - started),
                queue=len(self.pending), mem_free=0, rssi=-60, config_rev=0, filtered=0,
                ts=int(time.time())), 1, True)


async def keep_connected(k, addr, ctx, stop):
    while not stop.is_set():
        await k.client.closed.wait()
        if stop.is_set():
            return
        k.reconnects += 1
        while not stop.is_set():
            try:
                await k.connect(addr[0], addr[1], ctx)
                break
            except (OSError, MqttError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                await asyncio.sleep(1 + random.random())


async def run_kiosk(k, args, end, started):
    next_status = time.time() + random.uniform(0, args.status_every)
    next_tap = time.time() + random.expovariate(1.0 / args.tap_every)
    while True:
        now = time.time()
        if now >= end:
            return
        if now >= next_status:
            k.status(started)
            next_status += args.status_every
        if now >= next_tap:
            k.tap()
            next_tap += random.expovariate(1.0 / args.tap_every)
        await asyncio.sleep(max(0.0, min(next_status, next_tap, end) - time.time()))


async def kiosks_role(args):
    creds = json.load(open(args.creds))
    ids = sorted(creds)[args.first:args.first + args.count]
    ports = [int(p) for p in args.ports.split(",")]
    ctx = ssl.create_default_context(cafile=args.ca)
    ks = [Kiosk(kid, creds[kid]) for kid in ids]
    addrs = {k.kid: ("127.0.0.1", ports[(args.first + i) % len(ports)])
             for i, k in enumerate(ks)}
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
    done = 0
    failed = []

    async def connect(k):
        nonlocal done
        async with gate:
            for attempt in range(5):
                try:
                    await k.connect(*addrs[k.kid], ctx)
                    break
                except (OSError, MqttError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                    if attempt == 4:
                        failed.append("%s: %r" % (k.kid, e))
                        return
                    await asyncio.sleep(1 + attempt)
        done += 1
        if done % 500 == 0:
            print("connected %d" % done, flush=True)

    t0 = time.time()
    await asyncio.gather(*[connect(k) for k in ks])
    print("ready %d %.1f %d" % (done, time.time() - t0, len(failed)), flush=True)
    for f in failed[:5]:
        print("failed " + f, flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    end = float(line.split()[1])
    connected_at_go = sum(1 for k in ks if k.client and k.client.connected)
    stop = asyncio.Event()
    keepers = [asyncio.ensure_future(keep_connected(k, addrs[k.kid], ctx, stop))
               for k in ks if k.client]
    started = time.time()
    await asyncio.gather(*[run_kiosk(k, args, end, started) for k in ks if k.client])
    # Every tap sent must be receipted (the hub committed it) before the kiosks leave.
    deadline = time.time() + args.drain_timeout
    while time.time() < deadline and any(k.pending for k in ks):
        await asyncio.sleep(0.5)
    stop.set()
    out = {k.kid: sorted(k.acked) for k in ks}
    with open(args.out, "w") as f:
        json.dump(out, f)
    print("done " + json.dumps({
        "connected_at_go": connected_at_go, "sent": sum(k.seq for k in ks),
        "acked": sum(len(k.acked) for k in ks), "unreceipted": sum(len(k.pending) for k in ks),
        "reconnects": sum(k.reconnects for k in ks), "failed": len(failed)}), flush=True)
    for k in ks:
        if k.client:
            await k.client.close()
    for t in keepers:
        t.cancel()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--creds", required=True, help="JSON {kiosk id: password}")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--ports", required=True, help="broker ports; kiosk i uses port i mod n")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tap-every", type=float, default=20.0)
    ap.add_argument("--status-every", type=float, default=60.0)
    ap.add_argument("--drain-timeout", type=float, default=90.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:   # the orchestrator raised it already; the hard limit may be above what is allowed
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    asyncio.run(kiosks_role(args))


if __name__ == "__main__":
    main()
