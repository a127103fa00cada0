"""The firmware type-checks against the Pico W's MicroPython stubs
(micropython-rp2-rpi-pico-w-stubs, with micropython-stdlib-stubs as mypy's typeshed)."""
import glob
import os
import subprocess
import sys
import sysconfig

from tests.support.procs import ROOT

SITE = sysconfig.get_paths()["purelib"]
STUBS_DIST = "micropython_rp2_rpi_pico_w_stubs-*.dist-info"


def stub_tree(tmp_path):
    """The board stubs are installed as top-level .pyi files in site-packages, where mypy will
    not look for them: link exactly those files (from the package's RECORD) into one folder."""
    record = glob.glob(os.path.join(SITE, STUBS_DIST, "RECORD"))
    assert record, "micropython-rp2-rpi-pico-w-stubs is not installed"
    root = tmp_path / "stubs"
    names = set()
    for line in open(record[0]):
        path = line.split(",")[0]
        if path.endswith(".pyi"):
            dst = root / path
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.join(SITE, path), dst)
            names.add(path.split("/")[0].replace(".pyi", ""))
    os.symlink(os.path.join(SITE, "_mpy_shed"), root / "_mpy_shed")
    names.add("_mpy_shed")
    names.discard("__builtins__")
    # Errors inside the third-party stubs are theirs, not the firmware's.
    ini = tmp_path / "mypy.ini"
    ini.write_text("[mypy]\npython_version = 3.11\n[mypy-%s]\nignore_errors = True\n"
                   % ",".join(sorted(n + "," + n + ".*" for n in names)))
    return root, ini


def mypy(tmp_path, files):
    root, ini = stub_tree(tmp_path)
    env = dict(os.environ, MYPYPATH=os.pathsep.join(
        [str(root), os.path.join(ROOT, "firmware"), os.path.join(ROOT, "firmware", "sim"), ROOT]))
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ini),
                           "--custom-typeshed-dir", SITE, "--no-site-packages",
                           "--explicit-package-bases", "--no-incremental",
                           "--cache-dir", os.devnull] + files,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)


def firmware_files():
    fw = os.path.join(ROOT, "firmware")
    listed = [l.strip() for l in open(os.path.join(fw, "MANIFEST"))
              if l.strip() and not l.startswith("#")]
    return [os.path.join(fw, p) for p in listed] + sorted(glob.glob(os.path.join(fw, "sim", "*.py")))


def test_firmware_typechecks_against_pico_w_stubs(tmp_path):
    out = mypy(tmp_path, firmware_files())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout


def test_the_check_has_teeth(tmp_path):
    # The same setup must refuse a call the Pico W's API does not have.
    bad = tmp_path / "bad_fw.py"
    bad.write_text("import machine\nimport time\nmachine.Pin(2).toggle_all()\n"
                   "time.ticks_ms('now')\n")
    out = mypy(tmp_path, [str(bad)])
    assert out.returncode == 1
    assert "toggle_all" in out.stdout and "ticks_ms" in out.stdout
