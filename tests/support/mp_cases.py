"""A tiny test runner for case_* functions that works on CPython and on MicroPython alike
(no pytest there): prints `ok NAME` or `FAIL NAME: why` per case, then `done N failed`."""
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
