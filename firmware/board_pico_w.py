"""The Raspberry Pi Pico W board: buttons, confirm LED and tone, Wi-Fi, watchdog, display.

PINS is the one pin table of the kiosk; hardware/ documents the wiring from it, so keep it a
plain dict literal with a comment per line. Buttons switch to GND with the internal pull-up
(pressed = 0) and are sampled every 5 ms through rules.Debouncer, so a press is caught while
the app writes flash and the confirm (LED + tone) follows within a few milliseconds.
"""
import asyncio
import socket
import time

import machine
import network

import files
from clock import ntp_time
from rules import Debouncer

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
SAMPLE_MS = 5
CONFIRM_MS = 120    # LED on and tone sounding for this long after a tap is stored
TONE_HZ = 2000
WIFI_TIMEOUT_MS = 20000
WDT_MS = 8000       # the longest the RP2040 allows is 8.3 s


class Board:
    name = "pico_w"

    def __init__(self):
        Pin = machine.Pin
        self.buttons = [Pin(PINS[n], Pin.IN, Pin.PULL_UP) for n in BUTTON_PINS]
        self.debounce = [Debouncer(20) for _ in BUTTON_PINS]
        self.led = Pin(PINS["led"], Pin.OUT, value=0)
        self.buzzer = machine.PWM(Pin(PINS["buzzer"]))
        self.buzzer.duty_u16(0)
        self.confirm_until = None
        self.wlan = network.WLAN(network.STA_IF)
        self.display = self._display()
        self.s = {}

    def _display(self):
        try:  # an SSD1306 driver from micropython-lib (`mpremote mip install ssd1306`)
            import ssd1306  # type: ignore[import-not-found]
            i2c = machine.I2C(0, sda=machine.Pin(PINS["sda"]), scl=machine.Pin(PINS["scl"]))
            return ssd1306.SSD1306_I2C(128, 64, i2c)
        except Exception:
            return None  # no display fitted: the question is printed on the panel instead

    def settings(self):
        self.s = files.read_json("settings.json", {}) or {}
        return self.s

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
    async def inputs(self, kiosk):
        while True:
            now = time.ticks_ms()
            kiosk.alive["buttons"] = now
            for i in range(len(self.buttons)):
                if self.debounce[i].sample(self.buttons[i].value(), now):
                    kiosk.press(i, now)
            u = self.confirm_until
            if u is not None and time.ticks_diff(now, u) >= 0:
                self.led.value(0)
                self.buzzer.duty_u16(0)
                self.confirm_until = None
            await asyncio.sleep_ms(SAMPLE_MS)

    # ---- network and time ----------------------------------------------------------------
    async def net_up(self):
        w = self.wlan
        if w.isconnected():
            return True
        wifi = self.s.get("wifi") or {}
        w.active(True)
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

    def tls_opener(self, ca):
        from mqtts import tls_opener
        return tls_opener(ca)

    async def get_time(self):
        if not self.wlan.isconnected():
            return None
        t = await ntp_time(socket, self.s.get("ntp") or "pool.ntp.org")
        if t:
            tm = time.gmtime(t)
            machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
        return t

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
