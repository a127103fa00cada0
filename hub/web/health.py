"""What monitoring reads: GET /healthz (public liveness with the broker connection state) and
GET /metrics (the ingest's counters in the Prometheus text format, hub/ingest/metrics.py).
"""
from flask import Blueprint, Response, current_app, jsonify

from hub.ingest.metrics import render
from hub.web.db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    ingest = current_app.config.get("INGEST")
    broker = "connected" if ingest is not None and ingest.connected else "disconnected"
    try:
        get_db().execute("SELECT 1").fetchone()
        db_ok = True
    except Exception:
        db_ok = False
    body = {"ok": db_ok, "broker": broker, "db": "ok" if db_ok else "error"}
    if ingest is not None:
        body["ingest"] = ingest.health()
    return jsonify(body), (200 if db_ok else 503)


@bp.get("/metrics")
def metrics():
    return Response(render(current_app.config.get("INGEST")),
                    mimetype="text/plain; version=0.0.4; charset=utf-8")
