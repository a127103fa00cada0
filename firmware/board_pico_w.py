"""The Raspberry Pi Pico W board: buttons, confirm LED and tone, Wi-Fi, watchdog, display.

PINS is the one pin table of the kiosk; hardware/ documents the wiring from it, so keep it a
plain dict literal with a comment per line. Buttons switch to GND with the internal pull-up
(pressed = 0); each has a pin interrupt on both edges that debounces and latches the press
with its tick time (presses.py), so a press during a flash erase or a TLS handshake is
confirmed as soon as the loop is free, never missed; the loop drains the latch every 5 ms.
"""
import asyncio
import socket
import time

import machine
import network

import files
from clock import ntp_time
from net import Resolver, server_of
from presses import Latch

PINS = {
    "mood1": 2,     # mood button 1 "very unhappy" (to GND, internal pull-up)
    "mood2": 3,     # mood button 2 "unhappy"
    "mood3": 4,     # mood button 3 "happy"
    "mood4": 5,     # mood button 4 "very happy"
    "skill1": 6,    # skills button 1 (first skill in the config, default "basics")
    "skill2": 7,    # skills button 2 (default "eservices")
    "skill3": 8,    # skills button 3 (default "safety")
    "skill4": 9,    # skills button 4 (default "work")
    "led": 15,      # confirm LED, through a 330 ohm resistor to GND
    "buzzer": 16,   # piezo buzzer (PWM), confirm tone
    "safe": 22,     # safe-boot switch inside the box (to GND, internal pull-up), staff only
    "sda": 20,      # I2C0 SDA of the optional SSD1306 128x64 display
    "scl": 21,      # I2C0 SCL of the optional display
}
BUTTON_PINS = ("mood1", "mood2", "mood3", "mood4", "skill1", "skill2", "skill3", "skill4")
SAMPLE_MS = 5       # while the confirm LED and tone are on: when to end them
CONFIRM_MS = 120    # LED on and tone sounding for this long after a tap is stored
TONE_HZ = 2000
WIFI_TIMEOUT_MS = 20000
WDT_MS = 8000       # the longest the RP2040 allows is 8.388 s (ports/rp2/machine_wdt.c)


class Board:
    name = "pico_w"

    def __init__(self):
        Pin = machine.Pin
        self.buttons = [Pin(PINS[n], Pin.IN, Pin.PULL_UP) for n in BUTTON_PINS]
        self.latch = Latch(len(BUTTON_PINS))
        # Set by the pin interrupt: the loop wakes the moment a press is latched (ThreadSafeFlag
        # may be set from a hard IRQ; extmod/asyncio/event.py), not at its next 5 ms tick.
        flag = getattr(asyncio, "ThreadSafeFlag", None)
        self.flag = flag() if flag else None
        for i in range(len(self.buttons)):
            self.buttons[i].irq(self._handler(i), Pin.IRQ_FALLING | Pin.IRQ_RISING, hard=True)
        self.led = Pin(PINS["led"], Pin.OUT, value=0)
        self.buzzer = machine.PWM(Pin(PINS["buzzer"]))
        self.buzzer.duty_u16(0)
        self.confirm_until = None
        self.wlan = None   # made in settings(): the hostname must be set before it exists
        self.display = self._display()
        self.net = None
        self.s = {}

    def _handler(self, i):
        """The hard IRQ handler of button i: nothing allocated per call (bound once here)."""
        pin_edge = self.latch.pin
        pin = self.buttons[i]
        ticks = time.ticks_ms
        wake = self.flag.set if self.flag else None

        def handler(_p):
            pin_edge(i, pin.value(), ticks())
            if wake:
                wake()
        return handler

    def _display(self):
        try:  # the SSD1306 driver, flashed with the firmware (ssd1306.py)
            import ssd1306
        except ImportError as e:
            # Said on the console, where `civic kiosk flash` and staff read it: a kiosk with
            # a display fitted and no driver silently showed nothing before.
            print("display driver missing (%r): flash the firmware again (civic kiosk flash); "
                  "questions are printed on the console only" % (e,))
            return None
        try:
            i2c = machine.I2C(0, sda=machine.Pin(PINS["sda"]), scl=machine.Pin(PINS["scl"]))
            return ssd1306.SSD1306_I2C(128, 64, i2c)
        except OSError:
            return None  # no display answers on I2C: none fitted

    def settings(self):
        self.s = files.read_json("settings.json", {}) or {}
        self.wlan = self._wifi(self.s)
        dns = self.s.get("dns")
        fixed = server_of(dns) if dns else None
        self.net = Resolver(socket, lambda: fixed or self._dhcp_dns())
        print("fw %s" % getattr(__import__("app"), "FW", "?"))
        return self.s

    def _wifi(self, s):
        """The station interface of a mains-powered kiosk: its own host name on the site's
        network (the kiosk id, so staff find it in the router's lease table), the country's
        radio rules (settings `country`, e.g. "NL"; default worldwide), and no power saving:
        the CYW43's default power-save mode sleeps between beacons and adds tens of ms to
        every packet, which a kiosk on mains power has no reason to pay."""
        try:
            network.hostname(s.get("hostname") or s.get("id") or "civic-kiosk")
        except (AttributeError, ValueError, OSError):
            pass  # MicroPython before 1.20: no network.hostname
        if s.get("country"):
            try:
                network.country(s["country"])
            except (AttributeError, ValueError, OSError):
                try:  # MicroPython before 1.20 had it in rp2
                    import rp2
                    rp2.country(s["country"])
                except Exception as e:
                    print("wifi country %r not set: %r" % (s["country"], e))
        w = network.WLAN(network.STA_IF)
        w.active(True)
        try:
            w.config(pm=network.WLAN.PM_NONE)
        except (AttributeError, ValueError, OSError):
            pass
        return w

    def _dhcp_dns(self):
        try:
            return (self.wlan.ifconfig()[3], 53) if self.wlan.isconnected() else None
        except Exception:
            return None

    # ---- feedback ------------------------------------------------------------------------
    def log(self, msg):
        print(msg)

    def confirm(self, seq):
        self.led.value(1)
        self.buzzer.freq(TONE_HZ)
        self.buzzer.duty_u16(32768)
        self.confirm_until = time.ticks_add(time.ticks_ms(), CONFIRM_MS)

    def sent(self, seq):
        pass

    def refused(self):
        # Queue full: a low tone and no LED, so the citizen knows it did not count.
        self.buzzer.freq(400)
        self.buzzer.duty_u16(32768)
        self.confirm_until = time.ticks_add(time.ticks_ms(), CONFIRM_MS * 3)

    def filtered(self, btn):
        pass

    def show_question(self, text):
        print("question " + text)
        self.question = text
        self._draw(text)

    def _draw(self, text):
        d = self.display
        if d is None:
            return
        d.fill(0)
        for i in range(0, min(len(text), 128), 16):  # 16 characters a line, 8 lines
            d.text(text[i:i + 16], 0, (i // 16) * 8)
        d.show()

    def show_help(self, text, ms):
        # Where to get help with the skill just pressed, for ms; then the question again.
        print("help " + text)
        self._draw(text)
        self.help_shown = getattr(self, "help_shown", 0) + 1
        asyncio.create_task(self._unhelp(self.help_shown, ms))

    async def _unhelp(self, shown, ms):
        await asyncio.sleep_ms(ms)
        if shown == self.help_shown:  # no newer offer on the display meanwhile
            self._draw(getattr(self, "question", ""))

    # ---- inputs --------------------------------------------------------------------------
    def poll(self, kiosk, most=8):
        """Confirm latched presses (with the ticks of their interrupt), end the feedback."""
        now = time.ticks_ms()
        kiosk.alive["buttons"] = now
        self.latch.drain(kiosk.press, most)
        u = self.confirm_until
        if u is not None and time.ticks_diff(now, u) >= 0:
            self.led.value(0)
            self.buzzer.duty_u16(0)
            self.confirm_until = None

    async def inputs(self, kiosk):
        while True:
            self.poll(kiosk, 1)  # one press per turn: the other tasks run in between
            if self.latch.pending():
                await asyncio.sleep_ms(0)
                continue
            wait = SAMPLE_MS if self.confirm_until is not None else 1000
            if self.flag is None:
                await asyncio.sleep_ms(wait)
                continue
            try:
                await asyncio.wait_for_ms(self.flag.wait(), wait)
            except asyncio.TimeoutError:
                pass

    # ---- network and time ----------------------------------------------------------------
    async def net_up(self):
        w = self.wlan
        if w.isconnected():
            return True
        wifi = self.s.get("wifi") or {}
        w.active(True)
        try:
            w.config(pm=network.WLAN.PM_NONE)  # again: active(True) may have reset it
        except (AttributeError, ValueError, OSError):
            pass
        w.connect(wifi.get("ssid", ""), wifi.get("password", ""))
        waited = 0
        while waited < WIFI_TIMEOUT_MS:
            st = w.status()
            if st == network.STAT_GOT_IP:
                self.log("wifi connected, rssi %s" % self.rssi())
                return True
            if st in (network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND,
                      network.STAT_CONNECT_FAIL):
                self.log("wifi failed, status %d" % st)
                break
            await asyncio.sleep_ms(250)
            waited += 250
        w.disconnect()
        return False  # the app backs off (exponential, with jitter) and tries again

    def net_ok(self):
        return self.wlan.isconnected()

    def rssi(self):
        try:
            return self.wlan.status("rssi")
        except Exception:
            return None

    def tls_opener(self, ca, server_hostname=None):
        from mqtts import tls_opener
        return tls_opener(ca, server_hostname)

    async def get_time(self):
        if not self.wlan.isconnected():
            return None
        host, port = server_of(self.s.get("ntp") or "pool.ntp.org", 123)
        return await ntp_time(socket, await self.net.resolve(host), port)

    def set_rtc(self, t):
        """The RTC that mbedTLS checks certificate dates against (it boots at 2021-01-01)."""
        tm = time.gmtime(t)
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))

    # ---- the rest ------------------------------------------------------------------------
    def watchdog(self):
        return machine.WDT(timeout=WDT_MS)

    def safe_boot(self):
        """The safe-boot switch held at power-on (for 100 ms) skips the app: `mpremote` can
        always reach the REPL, even with a firmware that crashes at once. It has a pin of its
        own, inside the box: a citizen leaning on a panel button when the power comes back
        must not leave the kiosk idle."""
        switch = machine.Pin(PINS["safe"], machine.Pin.IN, machine.Pin.PULL_UP)
        for _ in range(10):
            if switch.value():
                return False
            time.sleep_ms(10)
        return True

    def reset(self):
        time.sleep_ms(2000)  # let the crash line reach a connected console
        machine.reset()
