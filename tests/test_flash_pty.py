"""`civic kiosk flash` with the real mpremote onto a "bare board" (the MicroPython unix port on a
pty, its flash the sim's littlefs image); the flashed image then boots as `civic kiosk sim
--boot-flash` and reports to a broker set up by `civic broker config` (issue 6)."""
import json
import os
import signal
import subprocess
import threading
import urllib.request

import pytest

from hub.kiosk_tools import first_status as kiosk_wait, flash
from tests.support.mqtt import Peer
from tests.support.procs import BIN, free_port, wait_until
from tests.support.ptyboard import PtyBoard, image_files, image_read
from tests.support.registry import RegistryBroker

CIVIC = os.path.join(BIN, "civic")
WIFI_SECRET = "wifi-secret-4711"


class Proc:
    """A child process whose output lines are collected by a thread."""

    def __init__(self, args, env=None, stdin=None):
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=stdin, text=True, env=env, start_new_session=True)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, text):
        return any(text in line for line in self.lines)

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait(10)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("build") / "kiosk")
    r = subprocess.run([CIVIC, "kiosk", "build", "--out", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_bare_board_to_broker(db_path, tmp_path, build_dir):
    reg = RegistryBroker(db_path, kiosks=("flash-1",)).start()
    board = PtyBoard(tmp_path / "kiosk").start()
    procs = []
    hub = Peer(reg.hub_port, reg.hub["username"], reg.hub["password"])
    try:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(reg.creds["flash-1"]))
        hub.subscribe("civic/v1/flash-1/taps")
        # A retained status from a previous life must not count as the new install coming up.
        hub.publish("civic/v1/flash-1/status", b'{"online": true, "fw": "0.0-old"}', retain=True)
        env = dict(os.environ, CIVIC_WIFI_PASSWORD=WIFI_SECRET, CIVIC_MQTT_USER="civic_hub",
                   CIVIC_MQTT_PASSWORD=reg.hub["password"])
        # The hub, on its own listener with its own account, into the registry's database.
        http = free_port()
        serve = Proc([CIVIC, "serve", "--broker", "mqtt://127.0.0.1:%d" % reg.hub_port,
                      "--port", str(http), "--db", db_path], env=env)
        procs.append(serve)
        fl = Proc([CIVIC, "kiosk", "flash", "--port", board.port, "--id", "flash-1",
                   "--wifi", "CityNet", "--broker", reg.url, "--credentials", str(creds),
                   "--build", build_dir, "--timeout", "40"], env=env)
        procs.append(fl)
        # The reset ends the unix-port board; powering it on again is booting its flash.
        assert wait_until(lambda: fl.has("resetting the board") and not board.alive, 30), \
            fl.lines
        sim = Proc([CIVIC, "kiosk", "sim", "--boot-flash", "--dir", board.dir],
                   stdin=subprocess.PIPE)
        procs.append(sim)
        assert fl.p.wait(45) == 0, fl.lines + sim.lines
        out = "\n".join(fl.lines)
        assert "online: kiosk flash-1, firmware 1.0.0" in out
        assert WIFI_SECRET not in out and reg.creds["flash-1"]["password"] not in out
        assert reg.creds["flash-1"]["update_key"] not in out   # a secret too: never printed
        # The flashed kiosk's taps reach the hub: counted in its database, shown by its API.
        sim.p.stdin.write("press 3\n")
        sim.p.stdin.flush()
        assert wait_until(lambda: hub.payloads("civic/v1/flash-1/taps"), 15), sim.lines
        assert json.loads(hub.payloads("civic/v1/flash-1/taps")[0])["taps"][0]["value"] == 4
        token = subprocess.run([CIVIC, "token", "create", "--db", db_path], capture_output=True,
                               text=True, check=True).stdout.strip()
        assert wait_until(lambda: serve.has("hub serving"), 15), serve.lines

        def api(path):
            req = urllib.request.Request("http://127.0.0.1:%d/api/v1/%s" % (http, path),
                                         headers={"Authorization": "Bearer " + token})
            return json.load(urllib.request.urlopen(req, timeout=5))
        assert wait_until(lambda: api("summary")["taps"] == 1, 15), serve.lines
        assert api("summary")["mood"]["by_value"]["4"] == 1
        kiosk = [k for k in api("kiosks") if k["id"] == "flash-1"][0]
        assert kiosk["online"] and kiosk["district"] == "north"
        sim.kill()
        files = image_files(os.path.join(board.dir, "flash.img"))
        built = json.load(open(os.path.join(build_dir, "build.json")))["files"]
        for rel, meta in built.items():
            assert files.get(rel) == meta["size"], rel
        assert "settings.json.new" not in files and not any(
            f.endswith(".py") and f != "main.py" and f != "boot.py" for f in files)
        settings = json.loads(image_read(os.path.join(board.dir, "flash.img"), "settings.json"))
        assert settings == {"id": "flash-1", "broker": reg.url, "user": "flash-1",
                            "password": reg.creds["flash-1"]["password"],
                            "wifi": {"ssid": "CityNet", "password": WIFI_SECRET},
                            "update_key": reg.creds["flash-1"]["update_key"]}
        # A Wi-Fi failure on the console ends the wait with the cause, not a timeout.
        w = kiosk_wait.StatusWatcher(reg.url, "civic_hub", reg.hub["password"], "flash-1")
        console = kiosk_wait.Console(os.path.join(board.dir, "no-such-port"))
        console.feed("wifi: join CityNet failed, status -3 (wrong password)")
        with pytest.raises(flash.FlashError, match="refused the password"):
            w.wait(5, console=console)
        w.close()
    finally:
        for p in procs:
            p.kill()
        hub.close()
        board.kill()
        reg.stop()


def run_flash(board_port, *extra, env=None, stdin=None):
    env = dict(os.environ, **(env or {}))
    if stdin:  # the Wi-Fi password must come from stdin, not from the caller's environment
        env.pop("CIVIC_WIFI_PASSWORD", None)
    return subprocess.run([CIVIC, "kiosk", "flash", "--port", board_port, "--id", "flash-2"]
                          + list(extra), capture_output=True, text=True, timeout=60, env=env,
                          input=stdin)


def test_no_board_full_flash_update_keeps_settings(tmp_path, build_dir):
    r = run_flash(str(tmp_path / "ttyACM9"), "--no-wait", "--build", build_dir)
    assert r.returncode == 1 and "no board at" in r.stderr, r.stderr
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"kiosk": "flash-2", "username": "flash-2", "password": "pw-2"}))
    board = PtyBoard(tmp_path / "kiosk").start()
    try:
        # Without credentials a bare board cannot become a kiosk.
        r = run_flash(board.port, "--no-wait", "--build", build_dir)
        assert r.returncode == 1 and "no settings yet: give --broker, --credentials, --wifi" \
            in r.stderr, r.stderr
        # Fill the flash: flashing refuses before it writes anything.
        board.mpremote("exec", "f = open('junk', 'wb')\nfor i in range(198):\n"
                               "    f.write(bytes(4096))\nf.close()")
        args = ("--build", build_dir, "--credentials", str(creds), "--wifi", "Net",
                "--broker", "mqtt://10.0.0.2:1883", "--no-reset")
        r = run_flash(board.port, *args, env={"CIVIC_WIFI_PASSWORD": "w"})
        assert r.returncode == 1 and "flash full" in r.stderr, r.stdout + r.stderr
        assert "main.py" not in board.mpremote("fs", "ls", ":").stdout
        # Room again, and a stale source twin of a compiled module: install (credentials and
        # then the Wi-Fi password on stdin, a CA certificate), then update.
        board.mpremote("exec", "import os\nos.remove('junk')\nopen('app.py', 'w').write('x=1')")
        ca = tmp_path / "city-ca.pem"
        ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        r = run_flash(board.port, "--build", build_dir, "--credentials", "-", "--wifi", "Net",
                      "--broker", "mqtts://10.0.0.2:8883", "--ca", str(ca), "--no-reset",
                      stdin=creds.read_text() + "\nw\n")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "pw-2" not in r.stdout + r.stderr
        assert board.mpremote("fs", "cat", ":ca.pem").stdout == ca.read_text()
        r = run_flash(board.port, "--build", build_dir, "--broker", "mqtt://10.0.0.2:1883",
                      "--no-reset")
        assert r.returncode == 0, r.stdout + r.stderr
        r = run_flash(board.port, "--build", build_dir, "--no-reset", "--lang", "nl")
        assert r.returncode == 0, r.stdout + r.stderr
        listing = board.mpremote("fs", "ls", ":").stdout
        assert "app.mpy" in listing and "app.py" not in listing and "main.py" in listing
        settings = json.loads(board.mpremote("fs", "cat", ":settings.json").stdout)
        assert settings["password"] == "pw-2" and settings["wifi"]["password"] == "w"
        assert settings["lang"] == "nl" and settings["broker"] == "mqtt://10.0.0.2:1883"
        assert settings["ca"] == "ca.pem" and settings["wifi"]["ssid"] == "Net"
        # Other credentials than the id asked for are refused.
        r = run_flash(board.port, "--build", build_dir, "--no-reset", "--credentials", str(creds),
                      "--id", "flash-3")
        assert r.returncode == 1 and "credentials are for kiosk flash-2" in r.stderr, r.stderr
    finally:
        board.kill()


def test_flashing_a_running_kiosk_works_the_first_time(tmp_path, build_dir):
    """A running kiosk: mpremote's Ctrl-C stops the app but not the RP2040's watchdog, which
    nobody feeds any more. Before: the board reset in the middle of the copy and flash failed
    (mpremote's traceback). Now flash's first command feeds the running watchdog from a soft
    timer while it works. The model's watchdog fires 2 s after the Ctrl-C here (8.4 s on the
    board) so that a flash without the feeding certainly outlasts it."""
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"kiosk": "flash-2", "username": "flash-2", "password": "pw"}))
    board = PtyBoard(tmp_path / "kiosk", wdt_ms=2000).start()
    try:
        r = run_flash(board.port, "--no-wait", "--no-reset", "--build", build_dir,
                      "--credentials", str(creds), "--wifi", "Net",
                      "--broker", "mqtt://10.0.0.2:1883", env={"CIVIC_WIFI_PASSWORD": "w"})
        assert r.returncode == 0, r.stdout + r.stderr
        assert "installed; not reset" in r.stdout
        assert board.alive, "the watchdog reset the board"
        listing = board.mpremote("fs", "ls", ":").stdout
        assert "main.py" in listing and "app.mpy" in listing
        assert board.alive
    finally:
        board.kill()


def test_a_port_without_micropython_is_named(tmp_path, build_dir):
    """A serial device that never gives a MicroPython prompt (mpremote gives up after ~10 s)."""
    link = str(tmp_path / "silent")
    dev = subprocess.Popen(["socat", "PTY,link=%s,raw,echo=0" % link,
                            "EXEC:sleep 60,pty,raw,echo=0"], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: os.path.exists(link), 10)
        r = run_flash(link, "--no-wait", "--build", build_dir)
        assert r.returncode == 1 and "does not give a MicroPython prompt" in r.stderr, r.stderr
    finally:
        os.killpg(dev.pid, signal.SIGKILL)
        dev.wait(10)


def test_console_reader_names_a_wifi_failure_from_a_real_serial_port(tmp_path):
    """What the board prints after its reset reaches flash through pyserial: here a pty pair,
    the board's end written by the test with the line firmware/board_pico_w.py logs."""
    board_end, pc_end = str(tmp_path / "board"), str(tmp_path / "pc")
    pair = subprocess.Popen(["socat", "PTY,link=%s,raw,echo=0" % board_end,
                             "PTY,link=%s,raw,echo=0" % pc_end], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    console = None
    try:
        assert wait_until(lambda: os.path.exists(board_end) and os.path.exists(pc_end), 10)
        console = kiosk_wait.Console(pc_end)
        assert console.opened.wait(10)
        with open(board_end, "w") as board:
            for line in ("kiosk flash-9 boot 1 queue 0", "wifi failed, status -3"):
                board.write(line + "\r\n")
                board.flush()
            assert wait_until(lambda: console.error, 10), console.lines
        assert "refused the password" in console.error
        assert console.lines[-1] == "wifi failed, status -3"
    finally:
        if console:
            console.close()
        os.killpg(pair.pid, signal.SIGKILL)
        pair.wait(10)
