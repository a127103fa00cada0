"""The Pico W board layer's safe boot, on CPython with a fake `machine`: only the safe-boot
switch inside the box starts it, never a panel button."""
import importlib
import sys
import types

import pytest

from tests.support.procs import ROOT


class FakePin:
    IN, OUT, PULL_UP = 0, 1, 2
    levels = {}                # GPIO -> level; pull-ups make an open switch read 1

    def __init__(self, gpio, *args, **kw):
        self.gpio = gpio

    def value(self, v=None):
        return FakePin.levels.get(self.gpio, 1)


@pytest.fixture
def board(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", types.SimpleNamespace(Pin=FakePin))
    monkeypatch.setitem(sys.modules, "network", types.SimpleNamespace())
    # the board's firmware neighbours need MicroPython's time module; safe boot uses none
    stubs = {"files": {}, "clock": {"ntp_time": None}, "rules": {"Debouncer": None}}
    for name, attrs in stubs.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    monkeypatch.syspath_prepend(ROOT + "/firmware")
    monkeypatch.setattr(FakePin, "levels", {})
    sys.modules.pop("board_pico_w", None)
    mod = importlib.import_module("board_pico_w")
    monkeypatch.setattr(mod, "time", types.SimpleNamespace(sleep_ms=lambda ms: None))
    yield mod
    sys.modules.pop("board_pico_w", None)


def test_safe_boot_is_the_switch_inside_not_a_panel_button(board):
    bare = object.__new__(board.Board)
    assert bare.safe_boot() is False
    for name in board.BUTTON_PINS:               # a citizen leaning on any panel button
        FakePin.levels = {board.PINS[name]: 0}
        assert bare.safe_boot() is False, name
    FakePin.levels = {board.PINS["safe"]: 0}     # staff hold the switch inside the box
    assert bare.safe_boot() is True
    assert board.PINS["safe"] not in [board.PINS[n] for n in board.BUTTON_PINS]
