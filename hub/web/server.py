"""`civic serve`'s web server: the app on waitress in the main thread, beside the parts that
run in background threads of the same process (the ingest, the alert loop), which it stops
when it stops.

SIGTERM and Ctrl-C take one clean path out: the server closes, then each part stops (the
ingest commits and acks what it took), then the process exits 0.
"""
import logging
import signal

import waitress

from hub.common.logs import kv

log = logging.getLogger("civic.serve")


def _on_term(signum, frame):
    raise KeyboardInterrupt  # one clean path out for SIGTERM and Ctrl-C


def run_web(app, host, port, parts=()):
    """Serve app until SIGTERM or Ctrl-C; then stop every part (anything with stop())."""
    try:
        server = waitress.create_server(app, host=host, port=port, threads=8)
    except OSError as e:
        _stop(parts)
        raise SystemExit("Error: cannot serve HTTP on %s:%s (%s): choose another --port or "
                         "--host" % (host, port, e.strerror or e))
    except BaseException:
        _stop(parts)
        raise
    signal.signal(signal.SIGTERM, _on_term)
    log.info(kv("serving", url="http://%s:%s/" % (host, server.effective_port),
                db=app.config["DATABASE"]))
    print("hub serving on http://%s:%s/" % (host, server.effective_port), flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        _stop(parts)


def _stop(parts):
    for part in parts:
        part.stop()
