"""The hub's background loop for alerts: every EVERY_S seconds, with its own connection, it
applies the rules (rules.py), queues a notification for each alert that opened or ended
(notify.py) in the same transaction, and delivers what is due. A page view only ever reads.

`civic serve` starts one (hub/cli.py). A failed round (database locked for longer than the
busy timeout, a receiver down) is logged and tried again next round; it never stops the loop.
"""
import logging
import time

from hub.alerts import notify, rules, settings
from hub.common.logs import kv
from hub.common.loop import BackgroundLoop
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


class AlertService(BackgroundLoop):
    """The alert loop for `civic serve`: run_once() every every_s seconds."""

    def __init__(self, db_path, every_s=EVERY_S):
        super().__init__("alerts", lambda: open_db(db_path), run_once, every_s)
