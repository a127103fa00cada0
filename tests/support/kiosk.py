"""Drive `civic kiosk sim` processes from tests: write commands, wait for output lines.

Every line the kiosk prints is kept with its arrival time; waits are event-driven (a condition
variable signalled by the reader thread), never fixed sleeps. kill() is a power cut (SIGKILL to
the process group: the sim exec's MicroPython in place, so that is the kiosk itself).
"""
import os
import re
import signal
import subprocess
import threading
import time

from tests.support.procs import BIN


class SimKiosk:
    def __init__(self, flash_dir, kiosk_id, broker_url, heap="128K", args=()):
        self.dir = str(flash_dir)
        self.id = kiosk_id
        self.broker_url = broker_url
        self.heap = heap
        self.args = list(args)
        self.proc = None
        self.lines = []          # (monotonic time, text) of every line printed, all runs
        self.cond = threading.Condition()
        self.run_start = 0       # index into lines where the current run began
        self._eof = False

    def command(self):
        cmd = [os.path.join(BIN, "civic"), "kiosk", "sim", "--dir", self.dir, "--heap", self.heap]
        if self.id:
            cmd += ["--id", self.id]
        if self.broker_url:
            cmd += ["--broker", self.broker_url]
        return cmd + self.args

    def start(self):
        with self.cond:
            self.run_start = len(self.lines)
            self._eof = False
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, bufsize=0)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self

    def _read(self, proc):
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self._eof = True
            self.cond.notify_all()

    def send(self, *cmds):
        data = "".join(c + "\n" for c in cmds).encode()
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def press(self, n):
        self.send("press %d" % n)

    def wait_line(self, pattern, timeout=20, since=None):
        """The first line (of the current run, or from index `since`) matching the regex."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        start = self.run_start if since is None else since
        with self.cond:
            while True:
                for _, text in self.lines[start:]:
                    if rx.search(text):
                        return text
                left = end - time.monotonic()
                if left <= 0 or self._ended():
                    raise AssertionError("no line /%s/ within %ss; output:\n%s"
                                         % (pattern, timeout, self.tail()))
                self.cond.wait(min(left, 0.5))

    def _ended(self):
        """The process is gone and its output fully read: nothing more can arrive."""
        return self.proc is not None and self.proc.poll() is not None and self._eof


    def wait_count(self, word, n, timeout=30):
        """Wait until the current run printed at least n lines starting with `word `."""
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.seqs(word)) < n:
                left = end - time.monotonic()
                if left <= 0 or self._ended():
                    raise AssertionError("only %d/%d `%s` lines; output:\n%s"
                                         % (len(self.seqs(word)), n, word, self.tail()))
                self.cond.wait(min(left, 0.5))
        return self.seqs(word)

    def seqs(self, word, all_runs=False):
        start = 0 if all_runs else self.run_start
        out = []
        for _, text in self.lines[start:]:
            parts = text.split()
            if len(parts) == 2 and parts[0] == word and parts[1].isdigit():
                out.append(int(parts[1]))
        return out

    def stats(self, timeout=20):
        import json
        since = len(self.lines)
        self.send("stats")
        return json.loads(self.wait_line(r"^stats ", timeout, since=since)[6:])

    def tail(self, n=40):
        return "\n".join(t for _, t in self.lines[-n:])

    def kill(self):
        """A power cut: SIGKILL, no chance to flush or close anything."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def install_into_image(flash_dir, src_dir):
    """Copy a folder into DIR/flash.img (creating it) with the sim's own littlefs driver."""
    from tests.support.procs import ROOT
    os.makedirs(flash_dir, exist_ok=True)
    subprocess.run([os.path.join(BIN, "micropython"),
                    os.path.join(ROOT, "firmware", "sim", "imgtool.py"),
                    os.path.join(flash_dir, "flash.img"), str(src_dir)],
                   check=True, capture_output=True, timeout=60)
