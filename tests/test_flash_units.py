"""The checks `civic kiosk flash` and `civic kiosk build` make before touching a board."""
import io
import json
import os
import subprocess

import pytest

from hub.kiosk_tools import build as kiosk_build, first_status as kiosk_wait, flash
from hub.kiosk_tools.flash import FlashError
from tests.support.procs import BIN, ROOT

PROBE = {"version": [1, 29, 0], "mpy": 0xB06, "platform": "rp2", "block": 4096, "blocks": 212,
         "free_blocks": 200, "files": {}}


def test_wrong_micropython_version_is_named():
    flash.check_version(PROBE)
    for version, mpy in (([1, 19, 1], 0x206), ([1, 22, 2], 0xA06), ([1, 29, 0], 0x605)):
        with pytest.raises(FlashError, match="wrong MicroPython version.*needs MicroPython 1.23"):
            flash.check_version(dict(PROBE, version=version, mpy=mpy))


def test_space_counts_blocks_and_what_gets_replaced():
    new = {"app.mpy": 5000, "main.py": 100}  # 2 + 1 blocks, biggest 2, margin 4: 9 blocks
    flash.check_space(dict(PROBE, free_blocks=9), new)
    with pytest.raises(FlashError, match="flash full: the kiosk needs 4 KB more than the 32 KB"):
        flash.check_space(dict(PROBE, free_blocks=8), new)
    # Replacing an old app.mpy of 2 blocks frees them.
    flash.check_space(dict(PROBE, free_blocks=7, files={"app.mpy": 8000}), new)


def test_settings_merge_and_refusals():
    creds = ("k-1", "pw", "k-1")
    s = flash.make_settings(None, "k-1", "mqtt://h:1883", creds, ("Net", "wpw"), "ca.pem", "nl",
                            None)
    assert s == {"id": "k-1", "user": "k-1", "password": "pw", "broker": "mqtt://h:1883",
                 "wifi": {"ssid": "Net", "password": "wpw"}, "ca": "ca.pem", "lang": "nl"}
    # An update keeps what the board has; a new Wi-Fi replaces only the Wi-Fi.
    assert flash.make_settings(s, "k-1", None, None, None, None, None, None) == s
    s2 = flash.make_settings(s, "k-1", None, None, ("Other", "x"), None, None, "pool.ntp.org")
    assert s2["wifi"] == {"ssid": "Other", "password": "x"} and s2["password"] == "pw"
    with pytest.raises(FlashError, match="set up as kiosk k-1, not k-2"):
        flash.make_settings(s, "k-2", None, None, None, None, None, None)
    with pytest.raises(FlashError, match="credentials are for kiosk k-1, not k-2"):
        flash.make_settings(None, "k-2", "mqtt://h:1", creds, ("N", "p"), None, None, None)
    with pytest.raises(FlashError, match="mqtt://HOST:PORT"):
        flash.make_settings(None, "k-1", "http://h", creds, ("N", "p"), None, None, None)
    # The update key goes into the settings; a key alone keeps the board's account.
    s3 = flash.make_settings(s, "k-1", None, (None, None, "k-1", "cd" * 32), None, None, None,
                             None)
    assert s3["update_key"] == "cd" * 32 and s3["user"] == "k-1" and s3["password"] == "pw"


def test_credentials_from_file_or_stdin(tmp_path):
    line = json.dumps({"kiosk": "k-1", "username": "k-1", "password": "pw"})
    assert flash.read_credentials("-", io.StringIO(line + "\nwifi\n")) == ("k-1", "pw", "k-1",
                                                                           None)
    key = "ab" * 32   # with the update key `civic kiosk provision` prints since updates
    line = json.dumps({"kiosk": "k-1", "username": "k-1", "password": "pw", "update_key": key})
    assert flash.read_credentials("-", io.StringIO(line)) == ("k-1", "pw", "k-1", key)
    # `civic kiosk update-key` prints the key alone: the board keeps its account
    (tmp_path / "k.json").write_text(json.dumps({"kiosk": "k-1", "update_key": key}))
    assert flash.read_credentials(str(tmp_path / "k.json")) == (None, None, "k-1", key)
    (tmp_path / "k.json").write_text(json.dumps({"kiosk": "k-1", "update_key": "xyz"}))
    with pytest.raises(FlashError, match="cannot read kiosk credentials"):
        flash.read_credentials(str(tmp_path / "k.json"))
    (tmp_path / "c.json").write_text("not json")
    with pytest.raises(FlashError, match="give the JSON that `civic kiosk provision ID` printed"):
        flash.read_credentials(str(tmp_path / "c.json"))
    with pytest.raises(FlashError, match="cannot read kiosk credentials"):
        flash.read_credentials(str(tmp_path / "missing.json"))


@pytest.mark.parametrize("line,cause", [
    ("wifi: join CityNet failed, status -3 (wrong password)", "refused the password"),
    ("WiFi error: STAT_WRONG_PASSWORD", "refused the password"),
    ("wifi: no AP found for CityNet", "no network with that SSID"),
    ("log wifi join failed (status: -3)", "refused the password"),
    ("log wifi: LINK_NONET", "no network with that SSID"),
    ("log wifi joined, status 3", None),
    ("mqtt: connect refused rc=5 (not authorised)", "refused the kiosk's MQTT credentials"),
    # what firmware/app.py logs when the broker says 5 (not authorised)
    ("log mqtt connect failed: MQTTError('connection refused, code 5')", "MQTT credentials"),
    ("mqtt connected", None),
    ("ack 12", None),
])
def test_console_lines_name_the_cause(line, cause):
    found = kiosk_wait.classify(line)
    assert (found is None) if cause is None else (cause in found)


def test_build_layout_and_manifest_errors(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("import app\napp.run()\n")
    (fw / "app.py").write_text("import protocol\ndef run():\n    print('app', protocol.ROOT)\n")
    (fw / "sim_only.py").write_text("raise SystemExit('not on the board')\n")
    (fw / "MANIFEST").write_text("# comment\nmain.py\napp.py\n")
    out = tmp_path / "out"
    info = kiosk_build.build(str(out), firmware_dir=str(fw))
    assert sorted(info["files"]) == ["app.mpy", "lib/protocol/__init__.mpy",
                                     "lib/protocol/fwcore.mpy", "lib/protocol/receipts.mpy",
                                     "lib/protocol/v1.mpy", "main.py"]
    # .civic-kiosk-build marks a folder the next build may replace (issue 14); not flashed
    assert sorted(os.listdir(out)) == [".civic-kiosk-build", "app.mpy", "build.json", "lib",
                                       "main.py"]
    assert (out / "app.mpy").read_bytes()[:2] == b"M\x06"  # .mpy v6
    # The build runs on MicroPython as the flash root: main.py, modules, lib/protocol.
    r = subprocess.run([os.path.join(BIN, "micropython"), "-c",
                        "import sys; sys.path[:0] = ['.', 'lib']; exec(open('main.py').read())"],
                       cwd=str(out), capture_output=True, text=True, timeout=20)
    assert r.stdout.strip() == "app civic/v1", r.stderr
    (fw / "MANIFEST").write_text("main.py\ngone.py\n")
    with pytest.raises(kiosk_build.BuildError, match="lists gone.py, which does not exist"):
        kiosk_build.build(str(out), firmware_dir=str(fw))
    assert (out / "app.mpy").exists()  # a failed build leaves the last good one alone
    (fw / "MANIFEST").write_text("app.py\n")
    with pytest.raises(kiosk_build.BuildError, match="must list main.py"):
        kiosk_build.build(str(out), firmware_dir=str(fw))
    (fw / "MANIFEST").write_text("main.py\napp.py\n")
    (fw / "app.py").write_text("def broken(:\n")
    with pytest.raises(kiosk_build.BuildError, match="mpy-cross failed on"):
        kiosk_build.build(str(out), firmware_dir=str(fw))


def test_real_manifest_lists_only_board_files():
    files = kiosk_build.manifest()
    assert "main.py" in files and not [f for f in files if f.startswith("sim/")]
    assert all(os.path.exists(os.path.join(ROOT, "firmware", f)) for f in files)


def test_console_agreement_with_the_firmware():
    """The Pico W board logs Wi-Fi failures with network.STAT_* codes; flash names each one."""
    import re
    src = open(os.path.join(ROOT, "firmware", "board_pico_w.py")).read()
    fmt = re.search(r'"(wifi[^"]*%d[^"]*)"', src)
    assert fmt, "firmware/board_pico_w.py no longer logs Wi-Fi failures as 'wifi ... %d'"
    import sysconfig  # the micropython-rp2-rpi-pico-w stubs hold the codes the board reports
    stubs = open(os.path.join(sysconfig.get_paths()["purelib"], "network.pyi")).read()
    code = {n: int(re.search(n + r": Final\[int\] = (-?\d+)", stubs).group(1))
            for n in ("STAT_WRONG_PASSWORD", "STAT_NO_AP_FOUND", "STAT_CONNECT_FAIL")}
    for stat, advice in (("STAT_WRONG_PASSWORD", "refused the password"),
                         ("STAT_NO_AP_FOUND", "no network with that SSID"),
                         ("STAT_CONNECT_FAIL", "joining the network failed")):
        assert advice in kiosk_wait.classify(fmt.group(1) % code[stat])
