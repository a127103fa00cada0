"""A small stand-in for the hub's side of a firmware update, for kiosk tests (docs/UPDATES.md):
make_release() compiles a copy of firmware/ with another version into release files, and
ReleaseServer publishes the signed offer (retained) on a kiosk's `update` topic and answers its
fetches on `chunk`, through a real broker, with protocol/updates.py. It can tamper with
chunks and count what it served. The hub's own release store and rollout replace it where a
test needs the hub."""
import hashlib
import os
import shutil
import threading

import paho.mqtt.client as mqtt

from hub.kiosk_tools import build
from protocol import updates, v1

KEY = bytes(range(1, 33))          # the test kiosks' update key
KEY_HEX = KEY.hex()
CACHE = {}                          # (version, broken) -> Release: a build takes ~2 s


class Release:
    def __init__(self, version, data):
        self.v = version
        self.data = data            # path in the app folder -> bytes
        self.files = [[p, len(b), hashlib.sha256(b).hexdigest()] for p, b in sorted(data.items())]

    def offer(self, n, chunk_max=2048, mpy="%d.%d" % build.MPY_VERSION, min_mp="1.22.0"):
        return {"v": self.v, "n": n, "mpy": mpy, "min_mp": min_mp, "chunk_max": chunk_max,
                "files": [list(f) for f in self.files]}

    @property
    def size(self):
        return sum(f[1] for f in self.files)


def make_release(work_dir, version, app_prefix=None):
    """The firmware as it is, compiled as a release of `version`; app_prefix: source put at
    the top of app.py (e.g. a raise, for a release that fails at import)."""
    key = (version, app_prefix)
    if key in CACHE:
        return CACHE[key]
    work = os.path.join(str(work_dir), "release-" + version)
    src = os.path.join(work, "firmware")
    shutil.copytree(build.FIRMWARE, src, ignore=shutil.ignore_patterns("sim", "__pycache__"))
    with open(os.path.join(src, "fwversion.py"), "w") as f:
        f.write('VERSION = "%s"\n' % version)
    if app_prefix:
        app = os.path.join(src, "app.py")
        text = open(app).read()
        with open(app, "w") as f:
            f.write(app_prefix + "\n" + text)
    out = os.path.join(work, "build")
    info = build.build(out, firmware_dir=src)
    data = {}
    for rel in info["files"]:
        stem = rel.rsplit(".", 1)[0]
        if rel in updates.LOADER_FILES or stem + ".py" in updates.LOADER_FILES:
            continue  # the loader stays at the flash root: never part of a release
        with open(os.path.join(out, rel), "rb") as f:
            data[rel] = f.read()
    rel = Release(version, data)
    CACHE[key] = rel
    return rel


class ReleaseServer:
    """Offers one release to one kiosk and serves its chunks. tamper(f, off, data) -> data
    may change what is served; offer_payload, when set, is published instead of the signed
    offer (a tampered manifest)."""

    def __init__(self, port, kiosk, release, n, key=KEY, chunk_max=2048, tamper=None,
                 delay=0.0):
        self.port = port
        self.kiosk = kiosk
        self.release = release
        self.n = n
        self.key = key
        self.chunk_max = chunk_max
        self.tamper = tamper
        self.delay = delay          # seconds before each chunk goes out (a Wi-Fi round trip)
        self.lock = threading.Lock()
        self.fetches = []           # (f, off, len) of every fetch answered
        self.refused = []           # fetches not of the offered release
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id="release-%s-%d" % (kiosk, id(self)))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def signed_offer(self):
        return updates.sign_offer(self.kiosk, self.release.offer(self.n, self.chunk_max),
                                  self.key)

    def start(self, payload=None):
        self.client.connect("127.0.0.1", self.port, 30)
        self.client.loop_start()
        self.publish_offer(payload)
        return self

    def publish_offer(self, payload=None):
        if payload is None:
            payload = updates.encode_offer(self.signed_offer())
        info = self.client.publish(v1.topic(self.kiosk, "update"), payload, qos=1, retain=True)
        info.wait_for_publish(10)

    def withdraw(self):
        self.publish_offer(b"")

    def stop(self, withdraw=True):
        if withdraw:
            try:
                self.withdraw()  # tidy; the broker's folder goes with the test anyway
            except (RuntimeError, ValueError):
                pass  # the broker restarted and this client is not back yet
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        client.subscribe(v1.topic(self.kiosk, "fetch"), qos=0)

    def _on_message(self, client, userdata, msg):
        try:
            req = updates.decode_fetch(msg.payload)
        except v1.ProtocolError:
            return
        rel = self.release
        t = v1.topic(self.kiosk, "chunk")
        if req["v"] != rel.v or req["n"] != self.n or req["f"] >= len(rel.files) \
                or req["len"] > self.chunk_max:
            with self.lock:
                self.refused.append(req)
            client.publish(t, updates.encode_chunk_error(req["v"], "not offered"), qos=0)
            return
        path = rel.files[req["f"]][0]
        data = rel.data[path][req["off"]:req["off"] + req["len"]]
        if not data:
            return
        if self.tamper is not None:
            data = self.tamper(req["f"], req["off"], data)
        with self.lock:
            self.fetches.append((req["f"], req["off"], req["len"]))
        msg = updates.encode_chunk(req["v"], req["f"], req["off"], data)
        if self.delay:
            threading.Timer(self.delay, client.publish, (t, msg, 0)).start()
        else:
            client.publish(t, msg, qos=0)

    def served(self):
        with self.lock:
            return list(self.fetches)


def flash_files(flash_dir):
    """Every file on a (stopped) sim kiosk's flash, as {path: size}, read with the sim's own
    littlefs driver."""
    import json
    import subprocess
    from tests.support.procs import BIN, ROOT
    script = (
        "import sys, os, json\nsys.path[:0] = [%r]\nimport blockdev\n"
        "blockdev.mount(%r, '/flash')\nout = {}\n"
        "def walk(d):\n"
        "    for e in os.ilistdir(d):\n"
        "        p = d + '/' + e[0]\n"
        "        if e[1] == 0x4000:\n"
        "            walk(p)\n"
        "        else:\n"
        "            out[p[7:]] = e[3]\n"
        "walk('/flash')\nprint(json.dumps(out))\n"
        % (os.path.join(ROOT, "firmware", "sim"), os.path.join(str(flash_dir), "flash.img")))
    r = subprocess.run([os.path.join(BIN, "micropython"), "-c", script], capture_output=True,
                       text=True, timeout=60, check=True)
    return json.loads(r.stdout)


def factory_build(work_dir):
    """The current firmware compiled as `civic kiosk build` makes it (what a kiosk runs):
    update tests boot it with --build, as the old version."""
    out = os.path.join(str(work_dir), "factory")
    if not os.path.exists(os.path.join(out, "build.json")):
        build.build(out)
    return out
