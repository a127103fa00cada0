"""The alert settings, kept in the settings table: thresholds, the kiosks' heartbeat (for the
hub's own liveness rule) and where alerts are delivered. `civic alerts config` and the Alerts
page both go through update(), so both check values the same way.
"""
import re
import secrets

from hub.store.connection import transaction

# Thresholds and the heartbeat: whole numbers, 1 to 99,999.
NUMBERS = {"alert_offline_minutes": 30, "alert_mood_drop": 10, "alert_mood_window_days": 7,
           "alert_mood_min_count": 20, "heartbeat_seconds": 60,
           # what a kiosk's own status raises (hub/alerts/rules.py)
           "alert_refused_minutes": 60, "alert_crash_boots": 3, "alert_unsynced_minutes": 15,
           "alert_queue_minutes": 30}
# Delivery: '' means off.
TEXTS = {"alert_webhook": "", "alert_webhook_secret": "", "alert_smtp": "", "alert_email": "",
         "alert_email_from": "civic-hub@localhost", "alert_language": "en"}
DEFAULTS = dict(NUMBERS, **TEXTS)
# A kiosk that sent nothing for this many heartbeat intervals is offline, whatever the broker
# says (a frozen kiosk keeps its TCP connection, and so its "online", for minutes).
SILENT_HEARTBEATS = 3


def read(db):
    out = dict(DEFAULTS)
    for k, v in db.execute("SELECT key, value FROM settings WHERE key LIKE 'alert_%' OR "
                           "key = 'heartbeat_seconds'"):
        if k in NUMBERS:
            out[k] = int(v)
        elif k in TEXTS:
            out[k] = v
    return out


def thresholds(db):
    s = read(db)
    return {k: s[k] for k in NUMBERS}


def silent_after(db):
    """Seconds without a message after which a kiosk counts as offline."""
    return SILENT_HEARTBEATS * read(db)["heartbeat_seconds"]


def _check(key, value):
    if key in NUMBERS:
        v = str(value).strip()
        if not v.isdigit() or not 0 < int(v) < 100000:
            raise ValueError("%s: a whole number from 1 to 99999" % key)
        return v
    value = (value or "").strip()
    if key == "alert_webhook" and value and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError("webhook: an http:// or https:// URL")
    if key == "alert_smtp" and value and not re.match(r"^[\w.-]+:\d{1,5}$", value):
        raise ValueError("smtp: HOST:PORT, e.g. mail.city.example:25")
    if key in ("alert_email", "alert_email_from") and value and \
            not re.match(r"^[^@\s]+@[^@\s]+$", value):
        raise ValueError("%s: an e-mail address" % key.replace("alert_", ""))
    if key == "alert_language" and value not in ("en", "nl"):
        raise ValueError("language: en or nl")
    return value


def update(db, changes, rotate_secret=False):
    """Check and store changes ({key: value}); a webhook gets a signing secret the first time
    (or a new one with rotate_secret). ValueError names the first bad value; nothing is stored
    then. -> the settings after the change."""
    checked = {k: _check(k, v) for k, v in changes.items() if k in DEFAULTS}
    now = dict(read(db), **checked)
    if bool(now["alert_smtp"]) != bool(now["alert_email"]):
        raise ValueError("e-mail needs both --smtp HOST:PORT and --email ADDRESS")
    if now["alert_webhook"] and (rotate_secret or not now["alert_webhook_secret"]):
        checked["alert_webhook_secret"] = secrets.token_urlsafe(32)
    with transaction(db.conn):
        for k, v in checked.items():
            db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                       "DO UPDATE SET value = excluded.value", [k, str(v)])
    return read(db)
