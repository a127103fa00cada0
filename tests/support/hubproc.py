"""`civic serve` and `civic kiosk sim` as real processes, driven only through the CLI contract."""
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from tests.support.procs import BIN, free_port, wait_until

CIVIC = os.path.join(BIN, "civic")


def civic(*args, stdin=None, timeout=60):
    return subprocess.run([CIVIC, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


class HubProc:
    """`civic serve` on a free port; get() speaks to its HTTP API."""

    def __init__(self, broker_url, db, extra=()):
        self.broker_url, self.db, self.extra = broker_url, str(db), list(extra)
        self.port = free_port()
        self.proc = None
        self.token = None

    def start(self, wait_connected=True):
        self.log = open(self.db + ".hub.log", "a")
        self.proc = subprocess.Popen(
            [CIVIC, "serve", "--broker", self.broker_url, "--db", self.db, "--host", "127.0.0.1",
             "--port", str(self.port)] + self.extra,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait_connected and not wait_until(
                lambda: self.get("/healthz").get("broker") == "connected", 30, 0.1):
            raise AssertionError("hub never connected; log:\n" + open(self.log.name).read()[-3000:])
        return self

    def make_token(self, role="viewer"):
        r = civic("token", "create", "--role", role, "--db", self.db)
        assert r.returncode == 0, r.stderr
        self.token = r.stdout.strip().splitlines()[-1]
        return self.token

    def get(self, path, token=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path))
        tok = token or self.token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def status(self, path, token=None):
        try:
            self.get(path, token)
            return 200
        except urllib.error.HTTPError as e:
            return e.code

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


class SimProc:
    """`civic kiosk sim`: send `press N` / `wait MS`, collect `ack`, `sent` and `question` lines."""

    def __init__(self, kiosk_id, broker_url, flash_dir, extra=()):
        self.id, self.broker_url, self.dir, self.extra = kiosk_id, broker_url, str(flash_dir), list(extra)
        self.acks, self.sent, self.questions, self.lines = [], [], [], []
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [CIVIC, "kiosk", "sim", "--id", self.id, "--broker", self.broker_url, "--dir", self.dir]
            + self.extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.dir + ".stderr"), "a"), text=True, bufsize=1,
            start_new_session=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self

    def _read(self, proc):
        for line in proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            word, _, rest = line.partition(" ")
            if word == "ack":
                self.acks.append(int(rest))
            elif word == "sent":
                self.sent.append(int(rest))
            elif word == "question":
                self.questions.append(rest)

    def send(self, *lines):
        try:
            self.proc.stdin.write("".join(l + "\n" for l in lines))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def press(self, button, wait_ms=0):
        self.send("press %d" % button, *(["wait %d" % wait_ms] if wait_ms else []))

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        time.sleep(0)

    stop = kill9
