"""The Pico W where the MicroPython unix port is kinder (the sim of firmware/README.md).

sim_main installs this before the firmware is imported; the firmware is not told. What it
models, each read against MicroPython's rp2 port:
- ticks: `time.ticks_ms()` wraps at 2**30 ms as on the RP2040 (ports/rp2/mphalport.h:
  mp_hal_ticks_ms() is the 64-bit microsecond timer / 1000, and extmod/modtime.c masks every
  ticks value with MICROPY_PY_TIME_TICKS_PERIOD - 1, which rp2 leaves at the default 2**30),
  so `ticks_diff` covers only +-2**29 ms (6.2 days). They start `ticks_start` ms after 0
  (default: 60 s before the wrap), and `ticks +MS` on stdin moves them on (time passing that
  the loop did not see, for the two-wrap test). asyncio was imported before this module and
  keeps the unix port's own ticks: only the firmware's view changes.
- the RTC: `time.time()`/`gmtime()` start at 2021-01-01 00:00:00 (rp2's machine RTC boots
  there: ports/rp2/main.c sets it to 2021-01-01 when it is not running) until the board
  sets it (`set_rtc`, what machine.RTC().datetime() does after NTP).
- DNS: `socket.getaddrinfo` of a name (not an address literal) blocks the whole process for
  `dns_block_ms` and then fails with OSError(-2), as lwIP does when its DNS servers do not
  answer (extmod/modlwip.c lwip_getaddrinfo waits for the callback; lwIP retries each server
  for several seconds). An address literal never blocks, as in lwIP (ipaddr_aton first).
- sockets: at most 5 open at once (lwIP's MEMP_NUM_TCP_PCB in ports/rp2/lwip_inc/lwipopts.h);
  a 6th socket() fails with OSError(ENOMEM), as modlwip does when tcp_new() returns NULL.
- the watchdog: machine.WDT runs in hardware, so it fires even while the loop is blocked: a
  thread here, not a task. Not fed for its timeout (8,388 ms at most on rp2:
  ports/rp2/machine_wdt.c caps it at 0x7fffff us) it prints `watchdog reset` and ends the
  process with SIGUSR1, which `civic kiosk sim` answers by booting again on the same DIR.
"""
import os
import sys
import time as _time

import socket as _socket

PERIOD = 1 << 30
MASK = PERIOD - 1
HALF = PERIOD >> 1
RTC_BOOT = 1609459200  # 2021-01-01 00:00:00 UTC
MAX_SOCKETS = 5
ENOMEM = 12
WDT_MAX_MS = 8388
SIGUSR1_RC = 138       # what the supervisor sees when the watchdog ends the process

state = {"offset": 0, "rtc": None, "dns_block_ms": 0, "wdt": None, "own_sockets": 0}


class Ticks:
    """A `time` module with the RP2040's 30-bit ticks and an RTC that starts in 2021."""

    def __init__(self, start):
        state["offset"] = start - _time.ticks_ms()
        for name in ("sleep", "sleep_ms", "sleep_us", "ticks_us", "ticks_cpu", "mktime",
                     "time_ns"):
            if hasattr(_time, name):
                setattr(self, name, getattr(_time, name))

    def ticks_ms(self):
        return (_time.ticks_ms() + state["offset"]) & MASK

    def ticks_add(self, t, delta):
        return (t + delta) & MASK

    def ticks_diff(self, a, b):
        return ((a - b + HALF) & MASK) - HALF

    def time(self):
        rtc = state["rtc"]
        if rtc is None:
            return RTC_BOOT + _time.ticks_diff(_time.ticks_ms(), BOOT_TICKS) // 1000
        return rtc[0] + _time.ticks_diff(_time.ticks_ms(), rtc[1]) // 1000

    def gmtime(self, t=None):
        return _time.gmtime(self.time() if t is None else t)

    localtime = gmtime


BOOT_TICKS = _time.ticks_ms()


def set_rtc(unix_time):
    state["rtc"] = (int(unix_time), _time.ticks_ms())


def rtc_set():
    return state["rtc"] is not None


def advance(ms):
    """Time passes for the firmware's ticks (not for asyncio's): `ticks +MS`."""
    state["offset"] += ms


def _is_address(host):
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return True
    return ":" in host  # an IPv6 literal


def doorbell():
    """(socket, ring): a loopback UDP socket the loop can wait on and a function another
    thread calls to wake it. The sim's own: not counted among the board's sockets."""
    import random
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    for _ in range(100):  # the unix port's sockets have no getsockname(): pick a free port
        port = 20000 + random.getrandbits(15)
        addr = _socket.getaddrinfo("127.0.0.1", port)[0][-1]
        try:
            s.bind(addr)
            break
        except OSError:
            continue
    s.setblocking(False)
    out = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    state["own_sockets"] += 2
    msg = b"!"

    def ring():
        try:
            out.sendto(msg, addr)
        except OSError:
            pass
    return s, ring


def open_sockets():
    """Sockets this process holds open for the firmware (the fds that are sockets, less the
    sim's own)."""
    n = -state["own_sockets"]
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.stat("/proc/self/fd/" + fd)[0] & 0xF000 == 0xC000:
                n += 1
        except OSError:
            pass
    return n


class Socket:
    """A `socket` module with lwIP's blocking DNS and its 5 sockets."""

    def __init__(self):
        for name in dir(_socket):
            if not name.startswith("_") and name not in ("socket", "getaddrinfo"):
                setattr(self, name, getattr(_socket, name))

    def getaddrinfo(self, host, port, *args):
        ms = state["dns_block_ms"]
        if ms and not _is_address(host):
            _time.sleep_ms(ms)  # the whole VM waits, as on the board
            raise OSError(-2)
        return _socket.getaddrinfo(host, port, *args)

    def socket(self, *args):
        if open_sockets() >= MAX_SOCKETS:
            raise OSError(ENOMEM)
        return _socket.socket(*args)


def _pid():
    with open("/proc/self/stat") as f:
        return f.read().split()[0]


class Watchdog:
    """machine.WDT: once created it cannot be stopped; not fed for `timeout` ms -> reset."""

    def __init__(self, timeout_ms, out):
        self.timeout = min(timeout_ms, WDT_MAX_MS)
        self.feeds = 0
        self.last = [_time.ticks_ms()]
        self.out = out
        state["wdt"] = self
        import _thread
        _thread.start_new_thread(self._watch, ())

    def feed(self):
        self.feeds += 1
        self.last[0] = _time.ticks_ms()

    def _watch(self):
        checked = _time.ticks_ms()
        while True:
            _time.sleep_ms(100)
            now = _time.ticks_ms()
            if _time.ticks_diff(now, checked) > self.timeout // 2:
                self.last[0] = now  # the whole process was frozen (SIGSTOP, a busy PC)
            checked = now
            if _time.ticks_diff(now, self.last[0]) > self.timeout:
                self.out("watchdog reset")
                os.system("kill -USR1 " + _pid())
                _time.sleep_ms(1000)


class Timer:
    """machine.Timer(-1, period=MS, callback=f): a soft timer, here a thread calling f."""

    def __init__(self, id=-1, period=1000, callback=None, **kw):
        self.on = True
        import _thread
        _thread.start_new_thread(self._run, (period, callback))

    def _run(self, period, callback):
        while self.on:
            _time.sleep_ms(period)
            if self.on and callback:
                callback(self)

    def deinit(self):
        self.on = False


class Mem32:
    """machine.mem32, for the one register the kiosk tools read: WATCHDOG CTRL (0x40058000),
    bit 30 ENABLE set once a watchdog runs."""

    def __getitem__(self, addr):
        if addr == 0x40058000:
            return 0x40000000 if state["wdt"] is not None else 0
        raise ValueError("address not modelled")


class Machine:
    """The parts of `machine` a board on a pty uses (tests/support/ptyboard.py): the watchdog,
    which cannot be stopped once made, soft timers and the watchdog's register."""
    Timer = Timer
    mem32 = Mem32()

    def __init__(self, out=print):
        self.out = out

    def reset(self):
        """machine.reset(): the sim's supervisor boots it again (exit code 4). It says first
        what this boot cost the flash (an update's wear: docs/UPDATES.md)."""
        bdev = getattr(sys.modules.get("board_sim"), "BDEV", None)
        if bdev is not None:
            self.out("log flash: %d erases, %d programs this boot"
                     % (bdev.erases, bdev.programs))
        self.out("reset")
        sys.exit(4)

    def WDT(self, id=0, timeout=WDT_MAX_MS):
        w = state["wdt"]
        if w is None:
            return Watchdog(timeout, self.out)
        w.feed()
        return w


def _stat():
    with open("/proc/self/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # state, ppid, ...


def _orphan_guard(ppid):
    """The supervising shell went away (kill -9 of the sim's pid): so does the board."""
    while True:
        _time.sleep_ms(500)
        if _stat()[1] != ppid:
            os.system("kill -9 " + _pid())


def install(ticks_start=None):
    """Make the firmware see a Pico W. Call once, before it is imported."""
    sys.modules["time"] = Ticks(PERIOD - 60000 if ticks_start is None else ticks_start)
    sys.modules["socket"] = Socket()
    import _thread
    _thread.start_new_thread(_orphan_guard, (_stat()[1],))
