"""GET /healthz: public liveness for monitoring, with the broker connection state."""
from flask import Blueprint, current_app, jsonify

from hub.db import get_db

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
