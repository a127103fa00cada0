"""Where the ingest's Writer runs: in a child process (what `civic serve`/`civic ingest` use) or in
a thread of the hub. Both take batches of prepared messages (hub/ingest/validate.py) in order
with send() and answer each, in the same order, with receive():
  ("ok", summary)    committed; the batch may be acknowledged to the broker,
  ("error", reason)  not committed; the same batch is tried again (once a second), so the
                     caller keeps waiting with receive(), or stops without acknowledging.
receive() raises WriterDied when a child process is gone; restart(batches) then starts a new
one and sends it every batch that had no "ok" yet, in order.

The process committer keeps up to two batches at the child: while it commits one, the next one
already waits in the pipe, so the writer is never idle between batches (issue 4, bench/ingest).
"""
import collections
import logging
import os
import pickle
import signal
import subprocess
import sys
import time

from hub.common.logs import kv, setup_logging
from hub.ingest.writer import Writer
from hub.store.connection import open_db

log = logging.getLogger("civic.ingest")

RETRY_S = 1.0   # wait before trying a batch again after a database error


class WriterDied(RuntimeError):
    pass


class ThreadCommitter:
    """The Writer in the caller's process (tests that need no extra process)."""

    def __init__(self, db_path):
        self.writer = Writer(db_path, background_checkpoints=True)
        self.waiting = collections.deque()
        self.failed = False

    def send(self, batch):
        self.waiting.append(batch)

    def receive(self):
        if self.failed:
            time.sleep(RETRY_S)
        try:
            summary = self.writer.commit(self.waiting[0])[1]
        except Exception as e:  # database locked or full: keep the batch, try again
            self.failed = True
            return ("error", repr(e))
        self.failed = False
        self.waiting.popleft()
        return ("ok", summary)

    def close(self):
        self.writer.db.conn.close()


def child_main(db_path):
    """The writer process (`python -m hub.ingest.committers DB`): pickled batches in on stdin,
    answers out on stdout, until stdin closes. Ctrl-C and SIGTERM reach the whole process
    group; the parent decides when this ends (it commits the batch it holds first), and a
    parent killed outright closes the pipe, which ends this too."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    setup_logging()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    writer = Writer(db_path, background_checkpoints=True)
    pickle.dump(("ready", os.getpid()), out)
    out.flush()
    while True:
        try:
            batch = pickle.load(inp)
        except (EOFError, OSError):
            return
        if batch is None:
            return
        while True:
            try:
                reply = ("ok", writer.commit(batch)[1])
            except Exception as e:
                reply = ("error", repr(e))
            pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            if reply[0] == "ok":
                break
            time.sleep(RETRY_S)


class ProcessCommitter:
    """The Writer in a child process started with subprocess (not multiprocessing, whose
    spawn would re-import whatever script started the hub)."""

    def __init__(self, db_path):
        self.db_path = db_path
        open_db(db_path).conn.close()  # migrate once here, so errors show in this process
        self._start()

    def _start(self):
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "hub.ingest.committers", self.db_path],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        try:
            hello = pickle.load(self.proc.stdout)  # the database is open: ready for batches
        except (EOFError, OSError, pickle.UnpicklingError):
            hello = None
        if not (isinstance(hello, tuple) and hello[0] == "ready"):
            self._kill()
            raise RuntimeError("the writer process did not start (exit code %s); its log "
                               "lines above say why" % self.proc.poll())
        log.info(kv("writer_process", pid=self.proc.pid))

    def send(self, batch):
        try:
            pickle.dump(batch, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
        except OSError:
            pass  # the child is gone: receive() says so

    def receive(self):
        try:
            return pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            log.error(kv("writer_process_died", exitcode=self.proc.poll()))
            raise WriterDied("writer process died")

    def restart(self, batches):
        self._kill()
        self.proc.stdout.close()
        self._start()
        for b in batches:
            self.send(b)

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self):
        try:
            pickle.dump(None, self.proc.stdin)
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill()
        self.proc.stdout.close()


if __name__ == "__main__":
    child_main(sys.argv[1])
