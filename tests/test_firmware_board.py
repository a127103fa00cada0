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
    stubs = {"files": {}, "clock": {"ntp_time": None}, "rules": {"Debouncer": None},
             "net": {"Resolver": None, "server_of": None}, "presses": {"Latch": None}}
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


class IrqPin(FakePin):
    """A pin with an interrupt: edges drive the handler as the RP2040's IO bank does."""
    IRQ_FALLING, IRQ_RISING = 4, 8
    made = {}

    def __init__(self, gpio, *args, **kw):
        super().__init__(gpio)
        self.level = 1
        self.handler = None
        IrqPin.made[gpio] = self

    def value(self, v=None):
        return self.level

    def irq(self, handler=None, trigger=0, hard=False):
        self.handler = handler

    def edge(self, level):
        self.level = level
        if self.handler:
            self.handler(self)


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append((name,) + a)


@pytest.fixture
def pico(monkeypatch):
    """board_pico_w with a fake `machine`/`network` and real firmware neighbours."""
    import time as _t
    now = [100000]
    fake_time = types.SimpleNamespace(
        ticks_ms=lambda: now[0], ticks_diff=lambda a, b: a - b,
        ticks_add=lambda a, b: a + b, sleep_ms=lambda ms: None, gmtime=_t.gmtime)
    monkeypatch.setitem(sys.modules, "time", types.SimpleNamespace(**vars(_t), **{
        k: getattr(fake_time, k) for k in ("ticks_ms", "ticks_diff", "ticks_add", "sleep_ms")}))
    wifi = {}

    class WLAN:
        PM_NONE = 0xA11140

        def __init__(self, *a):
            wifi["wlan"] = self

        def active(self, on=None):
            wifi["active"] = on

        def config(self, **kw):
            wifi.update(kw)

        def isconnected(self):
            return False

    net = types.SimpleNamespace(
        WLAN=WLAN, STA_IF=0, hostname=lambda h: wifi.update(hostname=h),
        country=lambda c: wifi.update(country=c))
    machine = types.SimpleNamespace(Pin=IrqPin, PWM=lambda p: Recorder(), I2C=Recorder,
                                    RTC=Recorder)
    monkeypatch.setitem(sys.modules, "machine", machine)
    monkeypatch.setitem(sys.modules, "network", net)
    monkeypatch.setattr(IrqPin, "made", {})
    monkeypatch.syspath_prepend(ROOT + "/firmware")
    for m in ("board_pico_w", "presses", "net", "clock", "files", "rules", "ssd1306"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    mod = importlib.import_module("board_pico_w")
    yield mod, now, wifi
    for m in ("board_pico_w", "presses", "net", "clock", "files", "rules", "ssd1306"):
        sys.modules.pop(m, None)


def test_a_missing_display_driver_is_reported(pico, capsys, monkeypatch):
    """Before: the ImportError of ssd1306 was swallowed with every other error, so a kiosk with
    a display fitted and no driver showed nothing and said nothing."""
    mod, _, _ = pico
    monkeypatch.setitem(sys.modules, "ssd1306", None)  # `import ssd1306` raises ImportError
    assert mod.Board().display is None
    assert "display driver missing" in capsys.readouterr().out


class FakeFrameBuffer:
    MONO_VLSB = 0

    def __init__(self, buf, w, h, fmt):
        self.buf = buf

    def fill(self, c):
        self.buf[:] = bytes([0xFF if c else 0]) * len(self.buf)

    def text(self, s, x, y):
        self.buf[x + (y // 8) * 128] = 0xFF  # a mark where the text starts


class FakeI2C:
    def __init__(self, *a, **k):
        self.sent = []

    def writeto(self, addr, data):
        self.sent.append((addr, bytes(data)))


def test_the_display_driver_is_flashed_and_shows_the_question(pico, monkeypatch):
    """Before: the driver came from a separate `mpremote mip install`; now it is part of the
    firmware (MANIFEST), and the question reaches the display over I2C."""
    mod, _, _ = pico
    import hub.kiosk_tools.build as build
    assert "ssd1306.py" in build.manifest()
    i2c = FakeI2C()
    monkeypatch.setitem(sys.modules, "framebuf", types.SimpleNamespace(
        FrameBuffer=FakeFrameBuffer, MONO_VLSB=0))
    monkeypatch.delitem(sys.modules, "ssd1306", raising=False)
    monkeypatch.setattr(mod.machine, "I2C", lambda *a, **k: i2c)
    board = mod.Board()
    assert board.display is not None and i2c.sent[0] == (0x3C, b"\x80\xae")  # display off
    i2c.sent.clear()
    board.show_question("How safe do you feel here?")
    pixels = [d for a, d in i2c.sent if d[:1] == b"\x40"]
    assert len(pixels) == 1 and len(pixels[0]) == 1 + 128 * 64 // 8 and pixels[0][1] == 0xFF


def test_a_press_while_the_loop_is_busy_is_latched_with_its_time(pico):
    """Before: buttons were sampled every 5 ms by the loop, so a press and release during a
    flash erase or a TLS handshake (the loop blocked) was never seen. Now the pin interrupt
    latches it, debounced, with the ticks of the press; the loop confirms it when free."""
    mod, now, _ = pico
    board = mod.Board()
    pin = IrqPin.made[mod.PINS["mood3"]]
    skill = IrqPin.made[mod.PINS["skill1"]]
    # The loop is blocked from 100000 to 100400 (an erase at its worst): a 60 ms press with
    # contact chatter on both edges, and another button's press.
    for t, level in ((100050, 0), (100051, 1), (100052, 0), (100110, 1), (100111, 0),
                     (100112, 1)):
        now[0] = t
        pin.edge(level)
    now[0] = 100200
    skill.edge(0)
    now[0] = 100400
    pressed = []
    kiosk = types.SimpleNamespace(alive={}, press=lambda b, t: pressed.append((b, t)))
    board.poll(kiosk)
    assert pressed == [(2, 100050), (4, 100200)]
    board.poll(kiosk)
    assert pressed == [(2, 100050), (4, 100200)]  # each press once
    now[0] = 100600
    skill.edge(1)
    now[0] = 101000
    skill.edge(0)  # a second press, after a real release
    board.poll(kiosk)
    assert pressed[-1] == (4, 101000)


def test_wifi_of_a_mains_powered_kiosk(pico):
    """Power saving off, the site's country, the kiosk id as host name."""
    mod, _, wifi = pico
    board = mod.Board()
    mod.files.read_json = lambda *a: {"id": "lib-north-1", "country": "NL"}
    board.settings()
    assert wifi["hostname"] == "lib-north-1" and wifi["country"] == "NL"
    assert wifi["pm"] == wifi["wlan"].PM_NONE
