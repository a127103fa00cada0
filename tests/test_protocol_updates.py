"""protocol/updates.py (firmware-update messages) on both interpreters, and its HMAC against
CPython's hmac module."""
import hmac
import os

import pytest

from protocol import updates
from tests.support import mp_cases, update_cases
from tests.support.procs import ROOT

CASES = sorted(n for n in dir(update_cases) if n.startswith("case_"))


@pytest.mark.parametrize("name", CASES)
def test_cpython(name):
    getattr(update_cases, name)()


def test_micropython_runs_the_same_cases():
    mp_cases.check_on_micropython('update_cases')


@pytest.mark.parametrize("klen", [0, 1, 32, 64, 65, 200])
def test_hmac_matches_the_standard_library(klen):
    key = os.urandom(klen)
    for msg in (b"", b"civic-fw-offer\n", os.urandom(1000)):
        assert updates.hmac_sha256(key, msg) == hmac.new(key, msg, "sha256").digest()


def test_protocol_package_does_not_load_updates():
    # The kiosk pays the update module's RAM only while an update runs.
    src = open(os.path.join(ROOT, "protocol", "__init__.py")).read()
    assert "updates" not in src
