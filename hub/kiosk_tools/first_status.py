"""After a flash: wait for the kiosk's first live status on the broker, and read its console.

The watcher subscribes BEFORE the board is reset, and only a live status counts (retain flag
off): a retained status from the kiosk's previous life says nothing about the new install.
Meanwhile the board's USB console is read (it comes back after the reset); the firmware prints
its Wi-Fi and MQTT failures there (firmware/board_pico_w.py: "wifi failed, status N" with N the
network.STAT_* code; firmware/app.py: "mqtt connect failed: ... code N"), which lets flash name
the cause instead of just timing out. Nothing read from the console is echoed.
"""
import json
import re
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

import protocol
from hub.kiosk_tools.board import FlashError

# (pattern on a console line, what the maker should do). First match wins.
CONSOLE_ERRORS = [
    (r"wi-?fi.*(wrong.?password|bad.?auth|auth\w* fail|stat.?wrong|"
     r"(status|code|stat)\W{0,3}-3\b)",
     "Wi-Fi: the network refused the password. Flash again with the right Wi-Fi password "
     "($CIVIC_WIFI_PASSWORD or the prompt)"),
    (r"wi-?fi.*(no.?ap|nonet|not found|(status|code|stat)\W{0,3}-2\b)",
     "Wi-Fi: no network with that SSID in range. Check --wifi (names are case-sensitive) and "
     "that it is a 2.4 GHz network: the Pico W has no 5 GHz radio"),
    (r"wi-?fi.*fail",
     "Wi-Fi: joining the network failed. Check the Wi-Fi name and password and the signal "
     "where the kiosk stands"),
    (r"mqtt.*(not.?auth|bad user|refused.*(4|5)\b|rc.?[45]\b)",
     "the broker refused the kiosk's MQTT credentials: after `civic kiosk provision`, run "
     "`civic broker config --dir DIR --reload` so the broker knows them"),
]


def classify(line):
    for pattern, advice in CONSOLE_ERRORS:
        if re.search(pattern, line, re.I):
            return advice
    return None


class Console:
    """Lines from the board's USB console, read in a thread that reopens the port after reset."""

    def __init__(self, port):
        self.port = port
        self.lines = []
        self.error = None
        self.opened = threading.Event()  # set once the port is open (and emptied by pyserial)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def feed(self, line):
        self.lines = (self.lines + [line])[-20:]
        self.error = self.error or classify(line)

    def _run(self):
        try:
            import serial
        except ImportError:
            return
        while not self._stop.is_set():
            try:
                with serial.Serial(self.port, 115200, timeout=0.2) as s:
                    self.opened.set()
                    buf = b""
                    while not self._stop.is_set():
                        buf += s.read(256)
                        while b"\n" in buf:
                            line, buf = buf.split(b"\n", 1)
                            self.feed(line.decode("utf-8", "replace").strip())
            except Exception:
                self._stop.wait(0.5)  # the board is resetting or gone: try again

    def close(self):
        self._stop.set()


class StatusWatcher:
    def __init__(self, url, user, password, kiosk_id, ca=None):
        u = urlsplit(url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise FlashError("bad broker URL %r (mqtt://HOST:PORT)" % url)
        self.url = url
        self.topic = protocol.topic(kiosk_id, "status")
        self.status = None
        self._got = threading.Event()
        self._ack = threading.Event()
        self._rc = None
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c.username_pw_set(user, password)
        if u.scheme == "mqtts":
            self.c.tls_set(ca_certs=ca)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda *a: self._ack.set()  # listening from here on
        self.c.on_message = self._on_message
        try:
            self.c.connect(u.hostname, u.port or (8883 if u.scheme == "mqtts" else 1883), 30)
        except OSError as e:
            raise FlashError("cannot reach the broker %s to watch for the kiosk: %s" % (url, e))
        self.c.loop_start()
        if not self._ack.wait(10) or self._rc is None or self._rc.is_failure:
            self.close()
            raise FlashError("the broker %s refused the watcher (%s): CIVIC_MQTT_USER and "
                             "CIVIC_MQTT_PASSWORD must be the hub's account from "
                             "`civic broker config`" % (url, self._rc or "no answer"))

    def _on_connect(self, c, userdata, flags, rc, props):
        self._rc = rc
        if rc.is_failure:
            self._ack.set()
        else:
            c.subscribe(self.topic, 1)

    def _on_message(self, c, userdata, msg):
        if msg.retain:
            return  # the kiosk's status from before this flash
        try:
            status = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(status, dict) and status.get("online") is True:
            self.status = status
            self._got.set()

    def wait(self, timeout, console=None):
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if self._got.wait(0.2):
                    return self.status
                if console is not None and console.error:
                    raise FlashError(console.error)
        finally:
            if console is not None:
                console.close()
        raise FlashError("no status from the kiosk within %d s. Check the Wi-Fi name and "
                         "password, that the broker URL is reachable from the kiosk's network "
                         "(not 127.0.0.1), and that `civic broker config --reload` ran after "
                         "provisioning. Watch the board's console: mpremote connect PORT"
                         % timeout)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()
