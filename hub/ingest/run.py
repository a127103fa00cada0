"""`civic ingest`: the ingest alone, e.g. one of several workers on an MQTT shared
subscription; and start_ingest(), which `civic serve` uses to run it beside the web app.

SIGTERM and Ctrl-C stop it cleanly: the writer commits and acks what it took, the MQTT session
stays on the broker (so nothing sent meanwhile is lost), then the process exits 0.
"""
import signal
import threading

from hub.common.logs import setup_logging
from hub.ingest.service import Ingest


def start_ingest(broker, user, password, db, client_id="civic-hub", share=None, ca=None):
    """The ingest, running (network thread, batch loop, writer process); SystemExit with a
    message when it cannot start."""
    try:
        return Ingest(db, broker, user=user, password=password, client_id=client_id,
                      share=share, mode="process", ca=ca).start()
    except (ValueError, RuntimeError) as e:   # a bad broker URL; the writer did not start
        raise SystemExit("Error: %s" % e)


def run_ingest(broker, user, password, db, client_id="civic-hub", share=None, ca=None):
    setup_logging()
    ingest = start_ingest(broker, user, password, db, client_id, share, ca)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: done.set())
    signal.signal(signal.SIGINT, lambda s, f: done.set())
    print("ingest running (client id %s%s)" % (client_id, ", share " + share if share else ""),
          flush=True)
    try:
        while not done.wait(1):
            pass
    finally:
        ingest.stop()
