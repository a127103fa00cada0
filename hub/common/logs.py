"""Structured logs: one key=value line per event (logfmt) on stderr, easy to grep and parse.

kv() builds the message part; setup_logging() installs the handler once per process (the hub,
an ingest worker, the writer's child process).
"""
import json
import logging
import os
import sys
import time


def kv(event, **fields):
    """A structured log line: event=... key=value ..., values quoted when they hold spaces."""
    parts = ["event=" + event]
    for k, v in fields.items():
        v = str(v)
        parts.append("%s=%s" % (k, json.dumps(v) if (" " in v or "=" in v or not v) else v))
    return " ".join(parts)


def setup_logging():
    """Log lines on stderr with a UTC timestamp, the level and the logger; idempotent."""
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
