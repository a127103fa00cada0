"""Firmware modules unit-tested on the MicroPython unix port (the interpreter they ship on)."""
import os
import re
import subprocess

from tests.support.procs import BIN, ROOT

SCRIPT = os.path.join(ROOT, "tests", "support", "fw_units.py")


def test_firmware_units_on_micropython():
    code = ("import sys\nsys.path[:] = [%r, %r, '.frozen']\nexec(open(%r).read())\n"
            % (os.path.join(ROOT, "firmware"), ROOT, SCRIPT))
    out = subprocess.run([os.path.join(BIN, "micropython"), "-X", "heapsize=16M", "-c", code],
                         capture_output=True, text=True, timeout=120)
    cases = re.findall(r"^def (case_\w+)", open(SCRIPT).read(), re.M)
    assert len(cases) >= 10
    report = out.stdout + out.stderr
    assert ["ok " + c for c in sorted(cases)] == [
        l for l in out.stdout.splitlines() if l.startswith(("ok ", "FAIL "))], report
    assert out.stdout.splitlines()[-1] == "done 0 failed", report
