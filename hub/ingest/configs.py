"""Configs for the kiosks: the rows of kiosk_configs not yet published go out retained at QoS 1
on civic/v1/<kiosk>/config, and are marked published when the broker PUBACKs them.

The web side (a question push, an admin change) only writes a row with published NULL; this
publisher, driven by the ingest's batch loop (hub/ingest/service.py), owns its own connection
for those rows. After a reconnect every publish still awaiting its PUBACK is sent again.
"""
import logging
import time

import protocol
from hub.common.logs import kv
from hub.ingest import config_heal
from hub.store.connection import open_db, transaction

log = logging.getLogger("civic.ingest")

CONFIG_POLL_S = 0.5        # how often kiosk_configs is checked for unpublished rows


class PolledPublisher:
    """What the config and firmware-offer publishers share: their own database connection,
    a check of their table at most every CONFIG_POLL_S, and the publishes awaiting a PUBACK
    (mid -> key), forgotten on a new connection so they go again (batch loop thread only: a
    lock here, held around paho's publish() and taken again in on_publish, which paho calls
    holding its own message lock, deadlocked the ingest)."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.db = None
        self._pending = {}
        self._due_at = 0.0          # next time the table is checked

    def open(self, db_path):
        self.db = open_db(db_path)  # the publisher's own connection

    def close(self):
        if self.db is not None:
            self.db.conn.close()

    def resend(self):
        """A new connection: publishes of the old one are sent again at the next check."""
        self._pending.clear()
        self._due_at = 0.0

    def check_due(self, link):
        """True when the table is to be checked now (and the link is up)."""
        if time.monotonic() < self._due_at:
            return False
        self._due_at = time.monotonic() + CONFIG_POLL_S
        return link.connected


class ConfigPublisher(PolledPublisher):
    def publish_due(self, link):
        """Publish the unpublished rows, at most every CONFIG_POLL_S (batch loop thread)."""
        if not self.check_due(link):
            return
        rows = self.db.execute("SELECT kiosk, rev, payload FROM kiosk_configs "
                               "WHERE published IS NULL ORDER BY updated").fetchall()
        waiting = set(self._pending.values())
        for kiosk, rev, payload in rows:
            if (kiosk, rev) in waiting:
                continue
            try:
                t = protocol.topic(kiosk, "config")
            except protocol.ProtocolError as e:
                log.error(kv("config_skipped", kiosk=kiosk, error=str(e)))
                continue
            mid = link.publish(t, payload.encode(), retain=True)
            if mid is not None:
                self._pending[mid] = (kiosk, rev)

    def acked(self, mid):
        """The PUBACK of mid (batch loop thread). -> (kiosk, rev) when it was a config."""
        return self._pending.pop(mid, None)

    def republish_all(self):
        """The broker had no session for us: publish every config again. -> how many."""
        with transaction(self.db.conn):
            n = config_heal.republish_all(self.db.conn)
        self._due_at = 0.0
        return n

    def mark_published(self, kiosk, rev):
        with transaction(self.db.conn):
            self.db.execute("UPDATE kiosk_configs SET published = ? WHERE kiosk = ? AND rev = ? "
                            "AND published IS NULL", [int(time.time()), kiosk, rev])
        self.metrics.configs_published += 1
        log.info(kv("config_published", kiosk=kiosk, rev=rev))
