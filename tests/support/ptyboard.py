"""A "bare Pico W" for flashing tests: the MicroPython unix port on a pseudo-terminal.

socat gives `micropython -i boot.py` a pty (its REPL, raw REPL included, is what mpremote talks
to) and links the other end at DIR/pty. boot.py mounts DIR/flash.img (the sim's littlefs image,
the Pico W's 212 x 4096 geometry, formatted when new) through the firmware's own block device
at /flash and makes it the current folder: the board's "/". A reset ends the process, as a
real reset ends a board's USB session; `civic kiosk sim --boot-flash --dir DIR` is the power-on.
"""
import os
import signal
import subprocess

from tests.support.procs import BIN, ROOT, wait_until

BOOT = """import sys, os
sys.path.insert(0, %r)
import blockdev
bdev = blockdev.mount(%r, "/flash")
os.chdir("/flash")
sys.path[:] = ["/flash", "/flash/lib", ".frozen"]
"""


# A kiosk whose app runs: it started the RP2040's watchdog and feeds it until mpremote's Ctrl-C
# stops it (the board's first input byte 0x03), then the prompt comes up with the watchdog
# still running and nobody feeding it (firmware/sim/picow.py models machine.WDT: not fed for
# its timeout, the board resets, which ends this process as it ends a USB session).
RUNNING = """import picow
sys.modules["machine"] = picow.Machine()
import machine, select
_wdt = machine.WDT(timeout=%d)
_in = select.poll()
_in.register(sys.stdin, select.POLLIN)
while True:
    _wdt.feed()
    if _in.poll(100) and sys.stdin.read(1) == "\\x03":
        break
del _wdt, _in
"""


class PtyBoard:
    def __init__(self, flash_dir, wdt_ms=None):
        self.dir = str(flash_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = os.path.join(self.dir, "pty")
        self.proc = None
        self.wdt_ms = wdt_ms

    def start(self):
        boot = os.path.join(self.dir, "board_boot.py")
        with open(boot, "w") as f:
            text = BOOT % (os.path.join(ROOT, "firmware", "sim"),
                           os.path.join(self.dir, "flash.img"))
            if self.wdt_ms:
                text = text.replace('sys.path[:] = ["/flash"',
                                    RUNNING % self.wdt_ms + 'sys.path[:] = ["/flash"')
            f.write(text)
        mp = os.path.join(BIN, "micropython")
        self.proc = subprocess.Popen(
            ["socat", "PTY,link=%s,raw,echo=0" % self.port,
             "EXEC:%s -i %s,pty,raw,echo=0,stderr" % (mp, boot)],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(lambda: os.path.exists(self.port), 10):
            self.kill()
            raise RuntimeError("socat did not make the pty " + self.port)
        return self

    def mpremote(self, *args, timeout=30):
        return subprocess.run([os.path.join(BIN, "mpremote"), "resume", "connect", self.port]
                              + list(args), capture_output=True, text=True, timeout=timeout)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def image_files(path):
    """{path: size} of every file in a littlefs image, read on the PC (littlefs-python)."""
    from littlefs import LittleFS
    fs = LittleFS(block_size=4096, block_count=212, mount=False)
    with open(path, "rb") as f:
        fs.context.buffer = bytearray(f.read())
    fs.mount()
    out = {}
    for root, dirs, names in fs.walk("/"):
        for n in names:
            p = (root.rstrip("/") + "/" + n).lstrip("/")
            out[p] = fs.stat("/" + p).size
    return out


def image_read(path, name):
    from littlefs import LittleFS
    fs = LittleFS(block_size=4096, block_count=212, mount=False)
    with open(path, "rb") as f:
        fs.context.buffer = bytearray(f.read())
    fs.mount()
    with fs.open(name, "rb") as f:
        return f.read()
