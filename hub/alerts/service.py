"""The hub's background loop for alerts: evaluates the rules (rules.py) every EVERY_S seconds
while the hub runs, with its own connection, so a page view only ever reads alerts.

`civic serve` starts one (hub/cli.py). A failed round (database locked for longer than the
busy timeout, say) is logged and tried again next round; it never stops the loop.
"""
import logging
import threading

from hub.alerts import rules
from hub.common.logs import kv
from hub.store.connection import open_db

log = logging.getLogger("civic.alerts")

EVERY_S = 30.0


class AlertService:
    def __init__(self, db_path, every_s=EVERY_S):
        self.db_path = db_path
        self.every_s = every_s
        self.rounds = 0               # completed evaluations, for tests and /healthz
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="civic-alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self):
        db = open_db(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    n = rules.evaluate(db)
                    self.rounds += 1
                    log.debug(kv("alerts_evaluated", open=n))
                except Exception as e:  # keep the loop alive; the next round tries again
                    log.error(kv("alerts_failed", error=repr(e)))
                self._stop.wait(self.every_s)
        finally:
            db.conn.close()
