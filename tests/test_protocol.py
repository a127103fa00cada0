"""Protocol v1 on both interpreters: the same cases under CPython and the MicroPython unix port."""
import pytest

from tests.support import mp_cases, protocol_cases

CASES = sorted(n for n in dir(protocol_cases) if n.startswith("case_"))


@pytest.mark.parametrize("name", CASES)
def test_cpython(name):
    getattr(protocol_cases, name)()


def test_micropython_runs_the_same_cases():
    mp_cases.check_on_micropython('protocol_cases')
