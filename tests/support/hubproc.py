"""`civic serve` as a real process, driven only through the CLI and HTTP contract
(tests/support/kiosk.py drives `civic kiosk sim`)."""
import json
import os
import signal
import subprocess
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
