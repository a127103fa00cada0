"""A MicroPython board reached through the real `mpremote` (USB serial, or a pseudo-terminal).

Every call is `mpremote resume connect PORT ...`: `resume` because a soft reset between calls
would restart the kiosk's app on a Pico W (and end the process of a unix-port board). Remote
paths are relative to the board's current folder, which is the flash root on a Pico W.
No secret ever appears on an mpremote command line: settings.json is copied from a private
temporary file.
"""
import json
import os
import shutil
import subprocess
import sys

# The first thing flash runs on the board. mpremote's Ctrl-C stopped the kiosk's app, but the
# RP2040's watchdog cannot be stopped once started (ports/rp2/machine_wdt.c: no deinit) and
# nobody feeds it now: the board would reset within 8 s, in the middle of the copy. So a soft
# timer feeds it once a second while flash works (machine.WDT() again restarts the same
# watchdog, watchdog_enable() in the pico-sdk; soft timer callbacks run while the REPL waits
# for input), for at most 10 minutes: a board left at the REPL resets into its app after that.
# Only a watchdog that runs is fed (the RP2040's WATCHDOG CTRL register, 0x40058000, bit 30
# ENABLE: RP2040 datasheet 4.7): a bare board gets none started. Elsewhere nothing happens.
FEED = r"""
try:
    import machine
    if machine.mem32[0x40058000] & 0x40000000:
        _civic_wdt = machine.WDT(timeout=8000)
        _civic_wdt.feed()
        _civic_left = [600]
        def _civic_feed(t):
            if _civic_left[0] > 0:
                _civic_left[0] -= 1
                _civic_wdt.feed()
            else:
                t.deinit()
        _civic_timer = machine.Timer(-1, period=1000, callback=_civic_feed)
        print('CIVIC-WDT fed while flashing')
except Exception:
    pass
"""

PROBE = FEED + r"""
import sys, os, json
def size(p):
    try:
        return os.stat(p)[6]
    except OSError:
        return -1
def walk(d, out):
    for e in os.ilistdir(d or '.'):
        p = (d + '/' if d else '') + e[0]
        if p == 'data':
            continue
        if e[1] == 0x4000:
            walk(p, out)
        else:
            out[p] = size(p)
files = {}
walk('', files)
st = os.statvfs('.')
impl = sys.implementation
print('CIVIC-PROBE ' + json.dumps({'version': list(impl.version[:3]),
      'mpy': getattr(impl, '_mpy', 0), 'platform': sys.platform,
      'machine': getattr(impl, '_machine', ''), 'block': st[0], 'blocks': st[2],
      'free_blocks': st[3], 'files': files}))
"""

PREPARE = r"""
import os
for d in ('lib', 'lib/protocol'):
    try:
        os.mkdir(d)
    except OSError:
        pass
for p in %r:
    try:
        os.remove(p)
    except OSError:
        pass
"""

RESET = r"""
import machine
try:
    machine.reset()
except AttributeError:
    machine.soft_reset()
"""


class FlashError(Exception):
    """Something a maker can fix; the message says what."""


def mpremote_exe():
    here = os.path.join(os.path.dirname(sys.executable), "mpremote")
    exe = here if os.path.exists(here) else shutil.which("mpremote")
    if not exe:
        raise FlashError("mpremote not found: install the kiosk tools (pip install mpremote)")
    return exe


class Board:
    def __init__(self, port, timeout=120):
        self.port = port
        self.timeout = timeout
        self.exe = mpremote_exe()

    def run(self, *args, check=True, timeout=None):
        cmd = [self.exe, "resume", "connect", self.port] + list(args)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout or self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            if not check:
                return ""
            raise FlashError("the board at %s did not answer within %d s: is it running "
                             "MicroPython? Hold the safe-boot switch (inside the box) while "
                             "plugging it in, or reinstall MicroPython (docs/FLASHING.md)"
                             % (self.port, timeout or self.timeout))
        out = (r.stdout or "") + (r.stderr or "")
        if check and r.returncode != 0:
            if "failed to access" in out or "no device found" in out:
                raise FlashError("no board at %s: plug the Pico W in with a USB data cable, "
                                 "check the port (`mpremote connect list`), and close any other "
                                 "program using it (Thonny, a serial monitor)" % self.port)
            if "Input/output error" in out or "device disconnected" in out or \
                    not os.path.exists(self.port):
                raise FlashError("the board at %s went away in the middle of the install (it "
                                 "reset or was unplugged). Run `civic kiosk flash` again: "
                                 "main.py is written last, so until then it starts at the "
                                 "MicroPython prompt" % self.port)
            if "could not enter raw repl" in out:
                raise FlashError("the board at %s does not give a MicroPython prompt: its app "
                                 "may be busy; hold the safe-boot switch (inside the box) while "
                                 "plugging it in" % self.port)
            raise FlashError("mpremote failed on %s: %s" % (self.port, out.strip()[-500:]))
        return r.stdout

    def probe(self):
        out = self.run("exec", PROBE)
        for line in out.splitlines():
            if line.startswith("CIVIC-PROBE "):
                return json.loads(line[len("CIVIC-PROBE "):])
        raise FlashError("the board at %s answered, but not as MicroPython does: %s"
                         % (self.port, out.strip()[-300:]))

    def read(self, remote):
        """A file's text from the board (never echoed), or None if it has none."""
        try:
            r = subprocess.run([self.exe, "resume", "connect", self.port, "fs", "cat",
                                ":" + remote], capture_output=True, text=True,
                               timeout=self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FlashError("the board at %s stopped answering" % self.port)
        return r.stdout if r.returncode == 0 else None

    def prepare(self, remove):
        self.run("exec", PREPARE % (list(remove),))

    def copy(self, pairs):
        """[(local path, remote path)] in order, in one mpremote session."""
        args = []
        for local, remote in pairs:
            args += ["fs", "cp", local, ":" + remote, "+"]
        if args:
            self.run(*args[:-1])

    def rename(self, old, new):
        self.run("exec", "import os\nos.rename(%r, %r)" % (old, new))

    def reset(self):
        # A Pico W drops off USB as it resets, so mpremote's own outcome says nothing.
        self.run("exec", RESET, check=False, timeout=15)
