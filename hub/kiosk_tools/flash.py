"""`civic kiosk flash`: from a board running MicroPython to a kiosk that reports to the broker.

Steps, each with a clear error a maker can act on:
1. probe the board with mpremote (no board, not MicroPython, wrong MicroPython version);
2. check the build (and settings, CA file) fits in the free flash, before writing anything;
3. install: remove main.py first, so a flash cut short leaves a board that boots to the prompt
   (never new modules under an old main.py), copy the build, the CA certificate and
   settings.json (written as settings.json.new, then renamed: never half a file), main.py last;
   remove a module's stale .py/.mpy twin, which MicroPython would otherwise import instead;
4. reset, and wait for the kiosk's first live (not retained) status on the broker, reading the
   board's console meanwhile to name a Wi-Fi failure (wrong password, network not found).

Secrets: the kiosk's MQTT credentials come from the JSON `civic kiosk provision` printed (a file or
stdin), the Wi-Fi password from $CIVIC_WIFI_PASSWORD or a hidden prompt. None of them is ever on a
command line, printed or logged. A firmware update with no new settings keeps the board's own.
"""
import json
import os
import sys
import tempfile

from hub.kiosk_tools import build as kiosk_build, first_status as kiosk_wait
from hub.kiosk_tools.board import Board, FlashError
from protocol.v1 import valid_kiosk_id

MIN_VERSION = (1, 23, 0)  # vfs module, asyncio as the firmware uses it, .mpy v6.3
MARGIN_BLOCKS = 4         # littlefs metadata and directory blocks


def check_version(probe):
    """Refuse a board whose MicroPython cannot run the build."""
    v = tuple(probe["version"])
    mpy = probe.get("mpy", 0)
    major, sub = mpy & 0xFF, (mpy >> 8) & 3
    if v < MIN_VERSION or (major, sub) != kiosk_build.MPY_VERSION:
        raise FlashError(
            "wrong MicroPython version on the board: %s (.mpy v%d.%d); the kiosk firmware needs "
            "MicroPython %s or later (.mpy v%d.%d). Install the current Pico W firmware: hold "
            "BOOTSEL, plug in, copy the RPI_PICO_W .uf2 from micropython.org (docs/FLASHING.md)"
            % (".".join(map(str, v)), major, sub, ".".join(map(str, MIN_VERSION)),
               kiosk_build.MPY_VERSION[0], kiosk_build.MPY_VERSION[1]))


def _blocks(size, block):
    return max(1, -(-size // block))


def check_space(probe, new_files):
    """new_files: {remote path: size}. Raise if they cannot fit next to what stays."""
    block = probe["block"]
    on_board = probe["files"]
    need = sum(_blocks(s, block) for s in new_files.values())
    freed = sum(_blocks(on_board[p], block) for p in new_files if on_board.get(p, -1) >= 0)
    biggest = max([_blocks(s, block) for s in new_files.values()] or [0])
    want = need - freed + biggest + MARGIN_BLOCKS  # littlefs writes a copy before the old goes
    if want > probe["free_blocks"]:
        raise FlashError(
            "flash full: the kiosk needs %d KB more than the %d KB free on the board. Remove "
            "files you added (mpremote fs ls / fs rm), or erase the flash and start over "
            "(docs/FLASHING.md); the kiosk's queued taps are in /data" % (
                (want - probe["free_blocks"]) * block // 1024,
                probe["free_blocks"] * block // 1024))


def read_credentials(source, stdin=None):
    """(username, password, kiosk, update_key) from the JSON `civic kiosk provision` printed,
    in a file or '-' (one line of stdin). The JSON of `civic kiosk update-key` (kiosk and
    update_key only) gives (None, None, kiosk, update_key): the board keeps its account."""
    try:
        if source == "-":
            text = (stdin or sys.stdin).readline()
        else:
            text = open(source, encoding="utf-8").read()
        creds = json.loads(text)
        key = creds.get("update_key")
        if key is not None and not (isinstance(key, str) and len(key) == 64 and
                                    all(c in "0123456789abcdef" for c in key)):
            raise ValueError("update_key is not 64 hex digits")
        if key and "password" not in creds:
            return None, None, creds["kiosk"], key
        return creds["username"], creds["password"], creds.get("kiosk", creds["username"]), key
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise FlashError("cannot read kiosk credentials from %s (%s): give the JSON that "
                         "`civic kiosk provision ID` printed" % (source, type(e).__name__))


def make_settings(old, kiosk_id, broker, creds, wifi, ca_name, lang, ntp):
    """settings.json for the board: the board's old settings updated with what was given."""
    s = dict(old or {})
    if s.get("id") not in (None, kiosk_id):
        if not creds:
            raise FlashError("the board is set up as kiosk %s, not %s: give --credentials for "
                             "%s" % (s["id"], kiosk_id, kiosk_id))
        s = {}
    s["id"] = kiosk_id
    if creds:
        if creds[2] != kiosk_id:
            raise FlashError("the credentials are for kiosk %s, not %s" % (creds[2], kiosk_id))
        if creds[0] is not None:
            s["user"], s["password"] = creds[0], creds[1]
        if len(creds) > 3 and creds[3]:
            s["update_key"] = creds[3]  # MACs its firmware offers (hub/updates/update_keys.py)
    if broker:
        s["broker"] = broker
    if wifi:
        s["wifi"] = {"ssid": wifi[0], "password": wifi[1]}
    if ca_name:
        s["ca"] = ca_name
    if lang:
        s["lang"] = lang
    if ntp:
        s["ntp"] = ntp
    missing = [k for k in ("user", "password", "broker", "wifi") if k not in s]
    if missing:
        need = {"user": "--credentials", "password": "--credentials", "broker": "--broker",
                "wifi": "--wifi"}
        raise FlashError("the board has no settings yet: give %s" % ", ".join(
            sorted({need[k] for k in missing})))
    if not s["broker"].startswith(("mqtt://", "mqtts://")):
        raise FlashError("broker must be mqtt://HOST:PORT or mqtts://HOST:PORT")
    return s


def run_flash(port, kiosk_id, wifi_ssid=None, wifi_password=None, broker=None, creds=None,
              ca=None, build_dir=None, lang=None, ntp=None, reset=True, wait=True,
              watch_broker=None, watch_user=None, watch_password=None, timeout=90, echo=print):
    if not valid_kiosk_id(kiosk_id):
        raise FlashError("bad kiosk id %r" % kiosk_id)
    if wait and not (watch_user and watch_password):
        raise FlashError("to confirm the kiosk comes online, flash listens for its status with "
                         "the hub's MQTT account: set CIVIC_MQTT_USER and CIVIC_MQTT_PASSWORD "
                         "(from `civic broker config`), or pass --no-wait")
    board = Board(port)
    probe = board.probe()
    echo("board: MicroPython %s on %s, %d KB free" % (".".join(map(str, probe["version"])),
         probe["platform"], probe["block"] * probe["free_blocks"] // 1024))
    check_version(probe)
    if probe["platform"] != "rp2":
        echo("note: not a Pico W (%s); installing anyway" % probe["platform"])
    with tempfile.TemporaryDirectory(prefix="civic-flash-") as tmp:
        if not build_dir:
            build_dir = os.path.join(tmp, "build")
            echo("building the firmware with mpy-cross")
            kiosk_build.build(build_dir)
        files = kiosk_build.build_files(build_dir)
        old_text = board.read("settings.json")
        try:
            old = json.loads(old_text) if old_text else None
        except ValueError:
            old = None
        wifi = (wifi_ssid, wifi_password or "") if wifi_ssid else None
        settings = make_settings(old, kiosk_id, broker, creds, wifi,
                                 "ca.pem" if ca else None, lang, ntp)
        spath = os.path.join(tmp, "settings.json")
        fd = os.open(spath, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(settings, f)
        pairs = [(os.path.join(build_dir, rel), rel) for rel in files if rel != "main.py"]
        if ca:
            pairs.append((ca, "ca.pem"))
        pairs.append((spath, "settings.json.new"))
        pairs.append((os.path.join(build_dir, "main.py"), "main.py"))
        check_space(probe, {remote: os.path.getsize(local) for local, remote in pairs})
        twins = [rel[:-4] + ".py" for rel in files if rel.endswith(".mpy")]
        twins += [rel[:-3] + ".mpy" for rel in files if rel.endswith(".py")]
        echo("installing %d files (%d KB)" % (len(pairs), sum(
            os.path.getsize(l) for l, _ in pairs) // 1024))
        board.prepare(["main.py"] + [t for t in twins if t in probe["files"]])
        board.copy(pairs[:-1])
        board.rename("settings.json.new", "settings.json")
        board.copy(pairs[-1:])
    echo("settings: kiosk %s, broker %s, Wi-Fi %r%s" % (
        kiosk_id, settings["broker"], settings["wifi"]["ssid"], ", CA certificate" if ca else ""))
    if not reset:
        echo("installed; not reset (--no-reset)")
        return 0
    watcher = None
    if wait:
        watcher = kiosk_wait.StatusWatcher(watch_broker or settings["broker"], watch_user,
                                           watch_password, kiosk_id, ca=ca)
    try:
        echo("resetting the board")
        board.reset()
        if not watcher:
            return 0
        echo("waiting up to %d s for %s's first status on %s" % (timeout, kiosk_id,
                                                                 watcher.url))
        status = watcher.wait(timeout, console=kiosk_wait.Console(port))
    finally:
        if watcher:
            watcher.close()
    echo("online: kiosk %s, firmware %s, boot %s, rssi %s" % (
        kiosk_id, status.get("fw"), status.get("boot"), status.get("rssi")))
    return 0
