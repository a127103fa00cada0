"""A tiny test runner for case_* functions that works on CPython and on MicroPython alike
(no pytest there): prints `ok NAME` or `FAIL NAME: why` per case, then `done N failed`.
check_on_micropython (CPython only) runs a cases module under the `micropython` command."""
import sys


def run_cases(namespace):
    failed = 0
    for name in sorted(namespace):
        if name.startswith("case_"):
            try:
                namespace[name]()
                print("ok " + name)
            except Exception as e:
                failed += 1
                print("FAIL %s: %r" % (name, e))
                if hasattr(sys, "print_exception"):  # MicroPython: the traceback too
                    sys.print_exception(e)
    print("done %d failed" % failed)
    return failed


def check_on_micropython(module):
    """Run every case_* of tests/support/<module>.py under MicroPython; assert all passed."""
    import os
    import subprocess
    from tests.support.procs import BIN, ROOT
    cases = sorted(n for n in dir(__import__("tests.support." + module, None, None, ["x"]))
                   if n.startswith("case_"))
    script = ("import sys\nsys.path[:0] = [%r]\n"
              "from tests.support import %s\n%s.main()\n" % (ROOT, module, module))
    out = subprocess.run([os.path.join(BIN, "micropython"), "-c", script], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stdout + out.stderr
    assert ["ok " + n for n in cases] == [l for l in lines if l.startswith(("ok", "FAIL"))], \
        out.stdout + out.stderr
    assert lines[-1] == "done 0 failed"
