"""When each API token was last used, written in batches and never by the request that used it
(a GET never writes; hub/store/__init__.py).

A request only notes the token's id and the time in memory. A flusher thread of the app's
process writes the notes every FLUSH_S seconds with its own connection, one transaction for all
of them, and once more when the process exits. The admin's token list may so be up to FLUSH_S
behind; a crash loses at most that much of this bookkeeping, never a tap.
"""
import atexit
import logging
import threading
import time

from flask import current_app

from hub.common.logs import kv
from hub.store.connection import transaction, using

log = logging.getLogger("civic.web")

FLUSH_S = 60.0


class TokenUsage:
    def __init__(self, db_path, flush_s=FLUSH_S):
        self.db_path = db_path
        self.flush_s = flush_s
        self._seen = {}                # token id -> latest use (Unix seconds)
        self._lock = threading.Lock()
        self._thread = None

    def record(self, token_id, now=None):
        with self._lock:
            self._seen[token_id] = int(now if now is not None else time.time())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="civic-token-usage",
                                                daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def flush(self, db=None):
        """Write what was noted since the last flush. -> how many tokens were updated."""
        with self._lock:
            seen, self._seen = self._seen, {}
        if not seen:
            return 0
        try:
            with using(db or self.db_path) as d, transaction(d.conn):
                d.conn.executemany("UPDATE tokens SET last_used = max(coalesce(last_used, 0), ?) "
                                   "WHERE id = ?", [(t, i) for i, t in seen.items()])
        except Exception as e:  # busy or gone: keep the notes for the next round
            log.warning(kv("token_usage_flush_failed", error=repr(e)))
            with self._lock:
                for i, t in seen.items():
                    self._seen[i] = max(t, self._seen.get(i, 0))
            return 0
        return len(seen)

    def _run(self):
        while True:
            time.sleep(self.flush_s)
            self.flush()


def init_app(app):
    app.extensions["civic_token_usage"] = TokenUsage(app.config["DATABASE"])


def record_token_use(token_id):
    current_app.extensions["civic_token_usage"].record(token_id)
