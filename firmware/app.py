"""The kiosk application: a press becomes a tap on flash at once, and reaches the hub later.

One small asyncio task per concern (see README.md "Tasks"): the board's input task calls
press() (rules, flash, confirm: no network I/O on this path, ever), `Sender.run` (sender.py)
drains the queue at QoS 1, `link` keeps Wi-Fi and MQTT up with backoff, `heartbeat` publishes the retained status,
`timekeeper` syncs the clock, `watchdog` feeds the board's WDT only while the others are alive.
The board (pins or the sim's stdin/stdout), flash paths and socket layer are parameters.
"""
import gc

gc.collect()
# The kiosk's two big buffers (the MQTT packet buffer: 128 bytes of headroom + a 4 KiB
# payload; the queue's 4 KiB read/merge buffer), taken before the other modules load: once
# they are in, the heap has plenty free but no 4 KiB hole left (measured on the sim's heap:
# 63 KB free and a MemoryError for 4096 bytes). Kiosk checks their sizes.
BUFFERS = (bytearray(128 + 4096), bytearray(4096))

import asyncio  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import files  # noqa: E402
import offers  # noqa: E402
import protocol  # noqa: E402
from clock import Clock  # noqa: E402
from fwversion import VERSION as FW  # noqa: E402  (a release replaces fwversion.py)
from mqtt import HEADROOM, MQTTClient, parse_url  # noqa: E402
from rules import Rules  # noqa: E402
from sender import Sender  # noqa: E402
from tapq import FLAG_REL, QueueFull, TapQueue  # noqa: E402

STATUS_EVERY_MS = 60000
ALIVE_MS = 60000  # a task silent this long is stuck (a send waits at most 2 x 15 s)


def jittered(backoff_ms):
    """Exponential backoff with jitter: a wait between half and all of backoff_ms, so a city's
    kiosks coming back after a broker outage do not reconnect in step."""
    return backoff_ms // 2 + random.randint(0, backoff_ms // 2)


class Kiosk:
    def __init__(self, board, settings, data="data"):
        # The one packet buffer of every MQTT connection: taps messages are written into it
        # in place (allocated once, at import, before the heap can fragment: BUFFERS).
        self.pkt = BUFFERS[0]
        assert len(self.pkt) == HEADROOM + protocol.MAX_PAYLOAD
        self.board = board
        self.kid = settings["id"]
        self.settings = settings
        self.data = data
        files.makedirs(data)
        self.boot = files.read_int(data + "/boot", 0) + 1
        files.write_int(data + "/boot", self.boot)
        self.lang = settings.get("lang", "en")
        self.cfg = dict(protocol.DEFAULT_CONFIG)
        self.cfg_rev = -1                       # no config applied yet: any rev is newer
        self.rules = Rules(self.cfg)
        self.q = TapQueue(data, settings.get("queue_max", 20000), buf=BUFFERS[1]).load()
        self.clock = Clock(self.boot, files.read_json(data + "/boots.json", {}))
        # The RTC boots at 2021-01-01 and a TLS certificate check needs a real date: the last
        # time NTP gave (kept on flash at every sync) is a safe lower bound until it answers.
        # Taps never use it: they keep their uptime until a real sync (clock.py).
        self.rtc_ok = False
        last = files.read_int(data + "/time", 0)
        if last:
            self.board.set_rtc(last)
            self.rtc_ok = True
        crash = files.read_bytes(data + "/crash.txt")
        self.crash = crash.decode()[-200:] if crash else None
        self.topics = {c: protocol.topic(self.kid, c) for c in protocol.CHANNELS}
        self.mqtt = None
        self.wake = asyncio.Event()        # a tap is waiting to be sent
        self.status_due = asyncio.Event()  # publish status now (connect, config, first sync)
        self.alive = {}                    # task name -> ticks of its last sign of life
        saved = files.read_json(data + "/config.json")
        if saved:
            try:
                self.apply_config(protocol.decode_config(protocol.encode_config(saved)))
            except protocol.ProtocolError:
                pass
        self.sender = Sender(self)
        # Firmware updates (docs/UPDATES.md): the last offer's progress as the status carries
        # it, kept on flash (it survives the reset into a new version, or back); the updater
        # and the trial are loaded only while they have work (updater.py, trial.py).
        self.update = files.read_json(data + "/update.json")
        self.fwu = None
        self.trial = None

    # ---- the press path: synchronous, flash only ---------------------------------------
    def press(self, btn, now=None):
        """Button btn (0-7) pressed at ticks `now`: returns the acked seq, or None if dropped."""
        if now is None:
            now = time.ticks_ms()
        if not 0 <= btn < 8:
            return None
        if not self.rules.allow(btn, now):
            self.board.filtered(btn)
            return None
        if btn < 4:
            q = self.cfg.get("question")
            name = q["id"] if q else None
        else:
            skills = self.cfg["skills"]
            if btn - 4 >= len(skills):
                self.board.log("button %d has no skill in this config" % btn)
                return None
            name = skills[btn - 4]
        t = self.clock.now()
        flags = btn
        if t is None:
            t = self.clock.uptime()
            flags |= FLAG_REL
        try:
            seq = self.q.add(t, self.boot, flags, self.q.name_index(name))
        except QueueFull:
            self.board.refused()
            return None
        except OSError as e:  # the flash refused the write: no ack, counted, never a crash
            self.q.refused += 1
            self.board.log("flash write failed: %r" % (e,))
            self.board.refused()
            return None
        self.board.confirm(seq)
        self.wake.set()
        if btn >= 4:  # after the confirm: where to get help with this skill, if anywhere
            offers.show(self.board, self.cfg, name, self.lang)
        return seq

    # ---- config from the hub -------------------------------------------------------------
    def apply_config(self, cfg):
        old = protocol.question_text(self.cfg, self.lang) if self.cfg_rev >= 0 else None
        self.cfg = cfg
        self.cfg_rev = cfg["rev"]
        self.rules.apply(cfg)
        text = protocol.question_text(cfg, self.lang)
        if text is not None and text != old:
            self.board.show_question(text)
        self.board.log("config rev %d" % cfg["rev"])

    def on_message(self, topic, payload, retained):
        if topic == self.topics["receipt"]:
            self.sender.on_receipt(payload)
            return
        if topic == self.topics["chunk"] or topic == self.topics["update"]:
            import fwgate  # firmware updates: loaded with the first offer (docs/UPDATES.md)
            fwgate.route(self, topic, payload)
            return
        if topic != self.topics["config"]:
            return
        try:
            cfg = protocol.decode_config(payload)
        except protocol.ProtocolError as e:
            self.board.log("config refused: %s" % e)
            return
        if cfg["rev"] <= self.cfg_rev:
            return
        files.write_json(self.data + "/config.json", cfg)  # persisted before it is used
        self.apply_config(cfg)
        self.status_due.set()

    # ---- status --------------------------------------------------------------------------
    def status(self):
        st = {"fw": FW, "boot": self.boot, "uptime": self.clock.uptime(), "queue": self.q.count,
              "mem_free": gc.mem_free(), "rssi": self.board.rssi(),
              "config_rev": max(self.cfg_rev, 0), "filtered": self.rules.filtered,
              "ts": self.clock.now(), "refused": self.q.refused, "damaged": self.q.bad,
              "synced": self.clock.base is not None, "crash": self.crash,
              "update": self.update}
        return protocol.encode_status(True, **st)

    # ---- tasks ---------------------------------------------------------------------------
    def tls_waits(self):
        """mqtts:// with a CA checks the certificate's dates against the RTC: no handshake
        before the RTC holds a trustworthy time (NTP, or the last one kept on flash)."""
        s = self.settings
        b = s["broker"]   # one URL, a comma-separated string or a list: its first URL counts
        return (b if isinstance(b, str) else b[0]).startswith("mqtts://") and \
            bool(s.get("ca")) and not self.rtc_ok

    async def client(self, url):
        s = self.settings
        host, port, tls = parse_url(url)
        addr = await self.board.net.resolve(host)  # never the blocking getaddrinfo (net.py)
        opener = None
        if tls:
            opener = self.board.tls_opener(s.get("ca"), host)
        will = (self.topics["status"], protocol.encode_status(False), 1, True)
        return MQTTClient(self.kid, addr, port, s.get("user"), s.get("password"),
                          s.get("keepalive", 20), will, self.on_message, opener, self.pkt)

    async def link(self):
        backoff = 1000
        cap = self.settings.get("backoff_max_ms", 30000)
        told = False
        # settings "broker": one URL, or the nodes of a cluster (a list, or one string of
        # comma-separated URLs). Split once, here: nothing is allocated per connection (the
        # 128K heap's big buffers need their holes), and each lost or failed connection moves
        # on to the next node.
        urls = self.settings["broker"]
        urls = urls.split(",") if isinstance(urls, str) else urls
        at = -1
        while True:
            self.alive["link"] = time.ticks_ms()
            up = False
            if self.tls_waits():
                if not told:
                    self.board.log("mqtts waits for a trustworthy time (NTP or the last known)")
                    told = True
                await self.pause(1000, "link")
                continue
            try:
                if await self.board.net_up():
                    at = (at + 1) % len(urls)
                    m = await self.client(urls[at])
                    await m.connect()
                    # Here, so every reconnect renews both; one round trip, and the retained
                    # config and receipt come at once. Receipts at QoS 0: each is complete and
                    # the next one or a resend heals a lost one, and a PUBACK of ours after
                    # every receipt would meet Nagle's algorithm and a delayed ACK on the next
                    # taps message (measured: +40 ms a message, drain 37,000 -> 1,400 taps/s).
                    # The offer of a firmware update (retained, QoS 1) and its chunks (QoS 0:
                    # a lost one is asked for again) in the same SUBSCRIBE.
                    t = self.topics
                    got = await m.subscribe([t["config"], t["receipt"], t["update"], t["chunk"]],
                                            [1, 0, 1, 0])
                    self.sender.reconnected(got[1:2] != b"\x80")
                    self.mqtt = m
                    self.board.log("mqtt connected")
                    self.status_due.set()
                    self.wake.set()
                    up = True
                    backoff = 1000
                    while m.connected:
                        self.alive["link"] = time.ticks_ms()
                        if not self.board.net_ok():
                            m.close()
                            break
                        try:
                            await asyncio.wait_for_ms(m.lost.wait(), 1000)
                        except asyncio.TimeoutError:
                            pass
                    self.board.log("mqtt lost")
            except Exception as e:
                self.board.log("mqtt connect failed: %r" % (e,))
            if not up:
                backoff = min(backoff * 2, cap)
            await self.pause(jittered(backoff), "link")

    async def pause(self, ms, name):
        while ms > 0:
            self.alive[name] = time.ticks_ms()
            step = min(ms, 1000)
            await asyncio.sleep_ms(step)
            ms -= step

    async def heartbeat(self):
        while True:
            try:
                await asyncio.wait_for_ms(self.status_due.wait(), STATUS_EVERY_MS)
            except asyncio.TimeoutError:
                pass
            self.status_due.clear()
            m = self.mqtt
            if m and m.connected:
                try:
                    await m.publish(self.topics["status"], self.status(), 1, True, 10000)
                    if self.trial:
                        self.trial.confirm()  # on trial: this version reached the broker
                    if self.crash and files.exists(self.data + "/crash.txt"):
                        # Reported (PUBACKed): the next boot must not report it again, or
                        # the hub could not tell one crash from a crash loop.
                        files.write_atomic(self.data + "/crash.old", self.crash.encode())
                        files.remove(self.data + "/crash.txt")
                except Exception:
                    pass

    async def timekeeper(self):
        every = self.settings.get("ntp_every_s", 3600) * 1000
        while True:
            t = None
            try:
                t = await self.board.get_time()
            except Exception as e:
                self.board.log("time sync failed: %r" % (e,))
            if t:
                self.board.set_rtc(t)
                self.rtc_ok = True
                try:
                    files.write_int(self.data + "/time", t)  # the last known time (rtc_ok)
                except OSError:
                    pass
                first = self.clock.base is None
                if self.clock.set(t):
                    files.write_json(self.data + "/boots.json", self.clock.boots)
                if first:
                    self.board.log("clock synced %d" % t)
                    self.status_due.set()
                    self.wake.set()
            await asyncio.sleep_ms(every if t else 5000)

    def healthy(self, now):
        """Every task that reports life has done so within ALIVE_MS."""
        limit = self.settings.get("alive_ms", ALIVE_MS)
        for k in self.alive:
            if time.ticks_diff(now, self.alive[k]) > limit:
                return False
        return True

    async def watchdog(self):
        # Fed only while the loop is healthy: a stuck task lets the board reset itself.
        wdt = self.board.watchdog()
        while True:
            await asyncio.sleep_ms(1000)
            now = time.ticks_ms()
            self.clock.elapsed_ms()  # carried forward every second: ticks wrap (clock.py)
            self.rules.tick(now)     # and forgotten before they could alias (rules.py)
            if wdt is not None and self.healthy(now):
                wdt.feed()

    def on_task_error(self, loop, ctx):
        # An uncaught error in any task is a crash: saved to flash, reported, board reset.
        e = ctx.get("exception") or RuntimeError(str(ctx.get("message")))
        self.board.log("crash: " + save_crash(self.data, e).replace("\n", " | "))
        self.board.reset()

    async def main(self):
        asyncio.get_event_loop().set_exception_handler(self.on_task_error)
        self.board.log("kiosk %s boot %d queue %d" % (self.kid, self.boot, self.q.count))
        bs = sys.modules.get("bootsel")
        if bs and bs.trial:
            import trial  # a new version on trial: it must reach the broker in time
            self.trial = trial.Trial(self, bs)
        tasks = [self.timekeeper(), self.sender.run(), self.link(), self.heartbeat(),
                 self.watchdog(), self.board.inputs(self)]
        for t in tasks:
            asyncio.create_task(t)
        while True:
            await asyncio.sleep_ms(60000)


def save_crash(data, e):
    import io
    buf = io.StringIO()
    sys.print_exception(e, buf)  # type: ignore[attr-defined]
    try:
        files.write_atomic(data + "/crash.txt", buf.getvalue().encode())
    except Exception:
        pass
    return buf.getvalue()


def run(board, data="data"):
    """Run the kiosk until power-off; a crash is saved to flash, then the board resets."""
    try:
        k = Kiosk(board, board.settings(), data)
        # Collect early, at a quarter of what is free once everything is loaded, not only when
        # an allocation fails: garbage then never fills the heap between the live objects, so a
        # 1 KB file buffer still finds a hole after thousands of sends (without it a 10,000-tap
        # drain under a 128K heap met MemoryError about one run in three). The MicroPython
        # docs' recipe (library/gc.html, gc.threshold).
        gc.collect()
        gc.threshold(gc.mem_free() // 4 + gc.mem_alloc())
        asyncio.run(k.main())
    except KeyboardInterrupt:
        raise
    except Exception as e:
        board.log("crash: " + save_crash(data, e).replace("\n", " | "))
        board.reset()


def boot():
    """main.py calls this: the Pico W board on the Pico, the simulated board elsewhere."""
    name = "board_pico_w" if sys.platform == "rp2" else "board_sim"
    board = __import__(name).Board()
    if board.safe_boot():
        board.log("safe boot: the safe-boot switch is held, the app does not start")
        return
    run(board)
