"""Configs heal by themselves: a kiosk that reports an older config than the hub holds gets it
again, and so does every kiosk after the broker lost the hub's session.

A config is published once, retained (hub/ingest/configs.py marks kiosk_configs.published on
the broker's PUBACK). A broker that then loses its retained messages (a crash before its save,
a new broker, a RabbitMQ node) would leave a kiosk on its old config for good. Both checks here
only clear `published`: the batch loop's poll publishes every row whose `published` is NULL, so
there is one publishing path and one place that knows what a kiosk should run.
"""


def check_status(conn, kiosk, status):
    """Inside the Writer's transaction, for each status message. An online kiosk whose
    config_rev is below the rev the hub holds for it (or that reports none) gets its config
    published again. -> True when it was marked. A kiosk that refuses a config keeps being sent
    it at its heartbeat rate (once a minute): cheap, and it shows in the logs."""
    if not status.get("online"):
        return False   # a last will: the kiosk is not there to receive anything
    rev = status.get("config_rev")
    cur = conn.execute("UPDATE kiosk_configs SET published = NULL WHERE kiosk = ? AND rev > ? "
                       "AND published IS NOT NULL", (kiosk, -1 if rev is None else rev))
    return cur.rowcount > 0


def republish_all(conn):
    """The broker had no session for the hub (session_present=0): it may have lost every
    retained config too. -> how many configs will be published again."""
    return conn.execute("UPDATE kiosk_configs SET published = NULL "
                        "WHERE published IS NOT NULL").rowcount
