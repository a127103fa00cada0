"""A background loop of the hub's process: one thread that runs a round every `every_s`
seconds with its own database connection (hub/store/__init__.py's rule), until stop().

A round that fails (the database busy beyond its timeout, a receiver down) is logged and tried
again at the next round; it never ends the loop. The alert service and the retention
housekeeping of `civic serve` are such loops.
"""
import logging
import threading

from hub.common.logs import kv

log = logging.getLogger("civic.loop")


class BackgroundLoop:
    def __init__(self, name, open_db, round_fn, every_s):
        """open_db: () -> a connection, opened on the loop's thread; round_fn(db) is one round."""
        self.name, self.every_s = name, every_s
        self._open, self._round = open_db, round_fn
        self.rounds = 0               # completed rounds, for tests and /healthz
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="civic-" + self.name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self):
        db = self._open()
        try:
            while not self._stop.is_set():
                try:
                    self._round(db)
                    self.rounds += 1
                except Exception as e:  # keep the loop alive; the next round tries again
                    log.error(kv(self.name + "_failed", error=repr(e)))
                self._stop.wait(self.every_s)
        finally:
            db.conn.close()
