"""`civic serve` and `civic ingest`: the hub's processes.

run_serve: the ingest in background threads (hub/ingest_service.py) and the web app on waitress
in the main thread, app.config["INGEST"] set so /healthz and /metrics see the connection.
run_ingest: the ingest alone, e.g. several workers on one MQTT shared subscription.
SIGTERM and Ctrl-C stop both cleanly: the writer commits and acks what it took, the MQTT session
stays on the broker (so nothing sent meanwhile is lost), then the process exits 0.
"""
import logging
import os
import signal
import sys
import threading
import time

from hub.ingest import kv

log = logging.getLogger("civic.serve")


def setup_logging():
    """Structured logs on stderr: one key=value line per event (logfmt), easy to grep and parse."""
    root = logging.getLogger()
    if any(getattr(h, "_civic", False) for h in root.handlers):
        return
    h = logging.StreamHandler(sys.stderr)
    fmt = logging.Formatter("ts=%(asctime)s.%(msecs)03dZ level=%(levelname)s logger=%(name)s "
                            "%(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    h.setFormatter(fmt)
    h._civic = True
    root.addHandler(h)
    root.setLevel(os.environ.get("CIVIC_LOG_LEVEL", "INFO").upper())
    logging.getLogger("waitress").setLevel(logging.WARNING)


def _start_ingest(broker, user, password, db, client_id, share, ca=None):
    from hub.ingest_service import Ingest
    try:
        return Ingest(db, broker, user=user, password=password, client_id=client_id,
                      share=share, mode="process", ca=ca).start()
    except (ValueError, RuntimeError) as e:   # a bad broker URL; the writer did not start
        raise SystemExit("Error: %s" % e)


def _on_term(signum, frame):
    raise KeyboardInterrupt  # one clean path out for SIGTERM and Ctrl-C


def run_serve(broker, user, password, host, port, db, client_id="civic-hub", ca=None):
    import waitress

    from hub import create_app
    setup_logging()
    ingest = _start_ingest(broker, user, password, db, client_id, None, ca)
    try:
        app = create_app({"DATABASE": db})
        app.config["INGEST"] = ingest
        server = waitress.create_server(app, host=host, port=port, threads=8)
    except OSError as e:
        ingest.stop()
        raise SystemExit("Error: cannot serve HTTP on %s:%s (%s): choose another --port or "
                         "--host" % (host, port, e.strerror or e))
    except BaseException:
        ingest.stop()
        raise
    signal.signal(signal.SIGTERM, _on_term)
    log.info(kv("serving", url="http://%s:%s/" % (host, server.effective_port), db=db))
    print("hub serving on http://%s:%s/" % (host, server.effective_port), flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        ingest.stop()


def run_ingest(broker, user, password, db, client_id="civic-hub", share=None, ca=None):
    setup_logging()
    ingest = _start_ingest(broker, user, password, db, client_id, share, ca)
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
