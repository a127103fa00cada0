"""The hub's background loop for alerts: every EVERY_S seconds, with its own connection, it
applies the rules (rules.py), queues a notification for each alert that opened or ended
(notify.py) in the same transaction, and delivers what is due. A page view only ever reads.

`civic serve` starts one (hub/cli.py). A failed round (database locked for longer than the
busy timeout, a receiver down) is logged and tried again next round; it never stops the loop.
"""
import logging
import threading
import time

from hub.alerts import notify, rules, settings
from hub.common.logs import kv
from hub.store.connection import open_db, transaction

log = logging.getLogger("civic.alerts")

EVERY_S = 15.0


def run_once(db, now=None):
    """One round: evaluate, queue notifications, deliver. -> the events of this round."""
    now = int(now or time.time())
    with transaction(db.conn):
        events = rules.evaluate(db, now)
        notify.enqueue(db, events, settings.read(db), now)
    for event, alert_id in events:
        log.info(kv("alert_" + event, alert=alert_id))
    notify.deliver_due(db, now)
    return events


class AlertService:
    def __init__(self, db_path, every_s=EVERY_S):
        self.db_path = db_path
        self.every_s = every_s
        self.rounds = 0               # completed rounds, for tests and /healthz
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
                    run_once(db)
                    self.rounds += 1
                except Exception as e:  # keep the loop alive; the next round tries again
                    log.error(kv("alerts_failed", error=repr(e)))
                self._stop.wait(self.every_s)
        finally:
            db.conn.close()
