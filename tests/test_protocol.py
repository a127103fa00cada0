"""Protocol v1 on both interpreters: the same cases under CPython and the MicroPython unix port."""
import os
import subprocess

import pytest

from tests.support import protocol_cases
from tests.support.procs import BIN, ROOT

CASES = sorted(n for n in dir(protocol_cases) if n.startswith("case_"))


@pytest.mark.parametrize("name", CASES)
def test_cpython(name):
    getattr(protocol_cases, name)()


def test_micropython_runs_the_same_cases():
    script = ("import sys\nsys.path[:0] = [%r]\n"
              "from tests.support import protocol_cases\nprotocol_cases.main()\n" % ROOT)
    out = subprocess.run([os.path.join(BIN, "micropython"), "-c", script], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stdout + out.stderr
    assert ["ok " + n for n in CASES] == [l for l in lines if l.startswith(("ok", "FAIL"))], \
        out.stdout + out.stderr
    assert lines[-1] == "done 0 failed"
