"""The simulated board: stdin commands instead of buttons, stdout lines instead of LED and tone.

Commands (one per line): `press N`, `wait MS` (pauses this reader), and for tests and the
bench `stats` (one JSON line of counters), `status` (publish status now), `wifi off|on`,
`crash` (an uncaught error in a task, to exercise the crash file), `stall` (the sender task
stops making progress, to exercise the watchdog). Lines printed: `ack SEQ`,
`sent SEQ`, `question TEXT`, `help TEXT` (the sim's interface in README.md) and others for people. At EOF the kiosk keeps
running, as a real one does when nobody is pressing.
"""
import asyncio
import gc
import json
import sys
import time

BDEV = None   # set by sim_main: the counting block device under /flash
CFG = {}  # type: dict  # set by sim_main: the command line of `civic kiosk sim`


def out(line):
    sys.stdout.write(line + "\n")
    try:
        sys.stdout.flush()  # type: ignore[attr-defined]
    except AttributeError:
        pass


class Watchdog:
    """Like machine.WDT: not fed for timeout_ms -> the board resets (here: `watchdog reset`
    and exit code 4). It is checked by a task, so it catches a kiosk whose health check stops
    the feeding; a loop blocked outright is the hardware WDT's job on the board."""

    def __init__(self, timeout_ms=8000):
        self.feeds = 0
        self.timeout = timeout_ms
        self.last = time.ticks_ms()

    def feed(self):
        self.feeds += 1
        self.last = time.ticks_ms()

    async def watch(self):
        checked = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(100)
            now = time.ticks_ms()
            if time.ticks_diff(now, checked) > self.timeout // 2:
                self.last = now  # the whole process was frozen (SIGSTOP, a busy PC): not ours
            checked = now
            if time.ticks_diff(now, self.last) > self.timeout:
                out("watchdog reset")
                sys.exit(4)


class Board:
    name = "sim"

    def __init__(self):
        self.cfg = CFG
        self.wifi = True
        self.wdt = Watchdog()
        self.kiosk = None
        self.s = {}

    def settings(self):
        import files
        s = files.read_json("settings.json", {}) or {}
        for k in ("id", "broker", "user", "password", "ntp", "queue_max", "ca"):
            if self.cfg.get(k) is not None:
                s[k] = self.cfg[k]
        s.setdefault("measure_heap", True)  # the sim reports its live heap peak in `stats`
        self.s = s
        if s.get("id") is None or s.get("broker") is None:
            raise ValueError("no kiosk id or broker: give --id/--broker or a settings.json")
        return s

    # ---- feedback ------------------------------------------------------------------------
    def log(self, msg):
        out("log " + msg)

    def confirm(self, seq):
        out("ack %d" % seq)  # on the board: LED flash and a tone

    def sent(self, seq):
        out("sent %d" % seq)

    def refused(self):
        out("full")  # the queue is full: no ack, the press is counted in status `refused`

    def filtered(self, btn):
        out("filtered %d" % btn)

    def show_question(self, text):
        out("question " + text)

    def show_help(self, text, ms):
        out("help " + " ".join(text.split()))  # one line, whatever the text holds

    # ---- inputs ------------------------------------------------------------------------
    async def inputs(self, kiosk):
        self.kiosk = kiosk
        r = asyncio.StreamReader(sys.stdin)  # type: ignore[call-arg]
        while True:
            line = await r.readline()
            if not line:
                return  # EOF: nobody presses any more; the kiosk keeps running
            parts = line.decode().split()
            if parts:
                await self.command(kiosk, parts)

    async def command(self, kiosk, parts):
        cmd = parts[0]
        arg = parts[1] if len(parts) > 1 else ""
        if cmd == "press" and arg.isdigit():
            kiosk.press(int(arg))
        elif cmd == "wait" and arg.isdigit():
            await asyncio.sleep_ms(int(arg))
        elif cmd == "stats":
            out("stats " + json.dumps(self.stats(kiosk)))
        elif cmd == "status":
            kiosk.status_due.set()
        elif cmd == "wifi":
            self.wifi = arg != "off"
        elif cmd == "crash":
            asyncio.create_task(self._crash())
        elif cmd == "stall":  # the sender stops making progress (a stuck task)
            kiosk.sender.stalled = True
        else:
            out("error unknown command: " + " ".join(parts))

    async def _crash(self):
        raise RuntimeError("crash requested on stdin")

    def stats(self, kiosk):
        import os
        import micropython
        st = os.statvfs("/flash")
        gc.collect()
        return {"heap_used": gc.mem_alloc(), "heap_peak": max(kiosk.sender.heap_peak, gc.mem_alloc()),
                "queue": kiosk.q.count, "next_seq": kiosk.q.next_seq, "boot": kiosk.boot,
                "erases": BDEV.erases if BDEV else 0, "programs": BDEV.programs if BDEV else 0,
                "free_blocks": st[3], "blocks": st[2], "queue_bytes": kiosk.q.usage(),
                "mem_peak": micropython.mem_peak(), "mem_free": gc.mem_free(),
                "filtered": kiosk.rules.filtered, "refused": kiosk.q.refused,
                "config_rev": kiosk.cfg_rev, "wdt_feeds": self.wdt.feeds,
                "synced": kiosk.clock.base is not None,
                "code": getattr(sys.modules.get("app"), "__file__", None)}

    # ---- network and time ------------------------------------------------------------------
    async def net_up(self):
        return self.wifi  # the PC's network stands in for Wi-Fi; `wifi off` cuts it

    def net_ok(self):
        return self.wifi

    def rssi(self):
        return None  # no radio in the sim

    def tls_opener(self, ca):
        from mqtts import tls_opener
        return tls_opener(ca)

    async def get_time(self):
        ntp = self.cfg.get("ntp")
        if not ntp or ntp == "pc":
            return int(time.time())  # the sim's clock is the PC's, which is kept in sync
        if not self.wifi:
            return None
        import socket
        from clock import ntp_time
        host, port = ntp.rsplit(":", 1) if ":" in ntp else (ntp, "123")
        return await ntp_time(socket, host, int(port), 1000)

    # ---- the rest of the board -------------------------------------------------------------
    def watchdog(self):
        self.wdt = Watchdog(self.s.get("wdt_ms", 8000))
        asyncio.create_task(self.wdt.watch())
        return self.wdt

    def safe_boot(self):
        return bool(self.cfg.get("hold"))

    def reset(self):
        out("reset")
        sys.exit(3)
