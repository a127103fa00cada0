"""The simulated board: stdin commands instead of buttons, stdout lines instead of LED and tone.

Commands (one per line): `press N`, `wait MS` (pauses this reader), and for tests and the
bench `stats` (one JSON line of counters), `status` (publish status now), `wifi off|on`,
`crash` (an uncaught error in a task, to exercise the crash file), `stall` (the sender task
stops making progress, to exercise the watchdog), `busy MS` (the loop is blocked for MS, as
by a TLS handshake's arithmetic), `dns MS` (every DNS lookup of a name blocks the loop MS and
fails: an unreachable DNS server; 0 = answers), `ticks +MS` (the firmware's ticks move on).
stdin is read by a thread, the sim's stand-in for the buttons' pin interrupt: `press N` is
latched with its tick time (firmware/presses.py) even while the loop is blocked, and the
other commands are queued for the loop. Lines printed: `ack SEQ`,
`sent SEQ`, `question TEXT`, `help TEXT` (the sim's interface in README.md) and others for
people. At EOF the kiosk keeps
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


class Commands:
    """Lines from the stdin thread to the loop: a ring written by the thread only and read by
    the loop only (the unix port's threads run without a GIL here)."""

    def __init__(self, slots=64):
        self.ring = [None] * slots
        self.head = 0
        self.tail = 0

    def put(self, parts):
        nxt = (self.head + 1) % len(self.ring)
        while nxt == self.tail:
            time.sleep_ms(5)
        self.ring[self.head] = parts
        self.head = nxt

    def get(self):
        if self.tail == self.head:
            return None
        parts = self.ring[self.tail]
        self.ring[self.tail] = None
        self.tail = (self.tail + 1) % len(self.ring)
        return parts


class Board:
    name = "sim"

    def __init__(self):
        self.cfg = CFG
        self.wifi = True
        self.wdt = None
        self.kiosk = None
        self.latch = None
        self.cmds = Commands()
        self.eof = False
        self.s = {}

    def settings(self):
        import files
        out("fw %s" % getattr(sys.modules.get("app"), "FW", "?"))  # every boot, as the console
        s = files.read_json("settings.json", {}) or {}
        for k in ("id", "broker", "user", "password", "ntp", "queue_max", "ca", "update_key"):
            if self.cfg.get(k) is not None:
                s[k] = self.cfg[k]
        s.setdefault("measure_heap", True)  # the sim reports its live heap peak in `stats`
        self.s = s
        import picow
        import socket
        from net import Resolver, server_of
        picow.state["dns_block_ms"] = s.get("dns_block_ms", 0)  # a DNS server that is down
        # The sim has no DHCP: settings `dns` (HOST:PORT) names the DNS server, else names go
        # to the (modelled, blocking) getaddrinfo.
        self.net = Resolver(socket, server_of(s["dns"]) if s.get("dns") else None)
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
        from presses import Latch
        import _thread
        import picow
        self.kiosk = kiosk
        self.latch = Latch()
        # The loop is woken the moment the stdin thread latches a press or queues a command,
        # as asyncio.ThreadSafeFlag wakes it from the pin interrupt on the Pico W: a datagram
        # to a loopback socket of the sim's own (not one of the model's 5).
        wake, self.bell = picow.doorbell()
        bell = asyncio.StreamReader(wake)  # type: ignore[call-arg]
        _thread.start_new_thread(self._reader, ())
        while True:
            kiosk.alive["buttons"] = time.ticks_ms()
            # One press per turn of the loop: a script pressing in bursts must not starve the
            # sender's merges (a person cannot press that fast).
            self.latch.drain(kiosk.press, 1)
            parts = self.cmds.get()
            while parts is not None:
                await self.command(kiosk, parts)
                parts = self.cmds.get()
            if self.latch.pending():
                await asyncio.sleep_ms(0)
                continue
            try:
                await asyncio.wait_for_ms(bell.read(64), 1000)
            except asyncio.TimeoutError:
                pass

    def _reader(self):
        """The stdin thread: the buttons' interrupt (press N: latched with its ticks) and the
        command reader (`wait MS` pauses it; the rest goes to the loop). At EOF the kiosk
        keeps running, as a real one does when nobody is pressing."""
        latch = self.latch
        while True:
            line = sys.stdin.readline()
            if not line:
                self.eof = True
                return
            parts = line.split()
            if not parts:
                continue
            arg = parts[1] if len(parts) > 1 else ""
            if parts[0] == "press" and arg.isdigit():
                if int(arg) < 8:
                    while latch.full():  # a script pressing faster than any citizen: wait
                        time.sleep_ms(1)
                    latch.edge(int(arg), time.ticks_ms())
                    self.bell()
                else:
                    out("log button %s does not exist" % arg)
            elif parts[0] == "wait" and arg.isdigit():
                time.sleep_ms(int(arg))
            else:
                self.cmds.put(parts)
                self.bell()

    async def command(self, kiosk, parts):
        import picow
        cmd = parts[0]
        arg = parts[1] if len(parts) > 1 else ""
        if cmd == "stats":
            out("stats " + json.dumps(self.stats(kiosk)))
        elif cmd == "status":
            kiosk.status_due.set()
        elif cmd == "wifi":
            self.wifi = arg != "off"
        elif cmd == "crash":
            asyncio.create_task(self._crash())
        elif cmd == "stall":  # the sender stops making progress (a stuck task)
            kiosk.sender.stalled = True
        elif cmd == "busy" and arg.isdigit():  # the loop blocked (a TLS handshake's maths)
            time.sleep_ms(int(arg))
        elif cmd == "dns" and arg.isdigit():
            picow.state["dns_block_ms"] = int(arg)
        elif cmd == "ticks" and arg[1:].isdigit() and arg[0] == "+":
            picow.advance(int(arg[1:]))
        else:
            out("error unknown command: " + " ".join(parts))

    async def _crash(self):
        raise RuntimeError("crash requested on stdin")

    def stats(self, kiosk):
        import os
        import micropython
        import picow
        st = os.statvfs("/flash")
        gc.collect()
        return {"heap_used": gc.mem_alloc(), "heap_peak": max(kiosk.sender.heap_peak, gc.mem_alloc()),
                "queue": kiosk.q.count, "next_seq": kiosk.q.next_seq, "boot": kiosk.boot,
                "erases": BDEV.erases if BDEV else 0, "programs": BDEV.programs if BDEV else 0,
                "free_blocks": st[3], "blocks": st[2], "queue_bytes": kiosk.q.usage(),
                "mem_peak": micropython.mem_peak(), "mem_free": gc.mem_free(),
                "filtered": kiosk.rules.filtered, "refused": kiosk.q.refused,
                "config_rev": kiosk.cfg_rev, "wdt_feeds": self.wdt.feeds if self.wdt else 0,
                "sockets": picow.open_sockets(), "ticks": time.ticks_ms(),
                "rtc": time.time(), "damaged": kiosk.q.bad, "uptime": kiosk.clock.uptime(),
                "synced": kiosk.clock.base is not None,
                "code": getattr(sys.modules.get("app"), "__file__", None)}

    # ---- network and time ------------------------------------------------------------------
    async def net_up(self):
        return self.wifi  # the PC's network stands in for Wi-Fi; `wifi off` cuts it

    def net_ok(self):
        return self.wifi

    def rssi(self):
        return None  # no radio in the sim

    def tls_opener(self, ca, server_hostname=None):
        """mqtts://. The unix port's mbedTLS checks certificate dates against the PC's clock;
        a Pico W's checks them against its RTC (extmod/modtls_mbedtls.c, with
        MBEDTLS_HAVE_TIME_DATE and the RTC as its time source on rp2), which boots at
        2021-01-01: so with a CA and an RTC never set, the handshake fails here as it does
        there: the broker's certificate is "not yet valid" (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
        -0x2700)."""
        from mqtts import tls_opener
        import picow
        real = tls_opener(ca, server_hostname)
        if not ca:
            return real

        async def opener(host, port, *args):
            if not picow.rtc_set():
                raise OSError(-9984)  # -0x2700: the certificate's dates do not check out
            return await real(host, port, *args)
        return opener

    def set_rtc(self, unix_time):
        import picow
        picow.set_rtc(unix_time)

    async def get_time(self):
        ntp = self.cfg.get("ntp")
        if not ntp or ntp == "pc":
            import picow
            return int(picow._time.time())  # the PC's clock, which is kept in sync
        if not self.wifi:
            return None
        import socket
        from clock import ntp_time
        from net import server_of
        host, port = server_of(ntp, 123)
        return await ntp_time(socket, await self.net.resolve(host), port, 1000)

    # ---- the rest of the board -------------------------------------------------------------
    def watchdog(self):
        import picow
        # One hardware watchdog: the loader may have started it already (a trial boot).
        self.wdt = picow.state["wdt"] or picow.Watchdog(self.s.get("wdt_ms", picow.WDT_MAX_MS),
                                                        out)
        return self.wdt

    def safe_boot(self):
        if self.cfg.get("hold"):  # the app will not start: say the version here
            out("fw %s" % getattr(sys.modules.get("app"), "FW", "?"))
            return True
        return False

    def reset(self):
        out("reset")
        sys.exit(3)
