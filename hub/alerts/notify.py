"""Telling people: each alert that opens or ends is POSTed as JSON to the city's webhook and
mailed through its SMTP server, from an outbox in the database (alert_outbox), so a hub that
restarts, or a receiver that is down for an hour, loses no notification.

Webhook: POST, Content-Type application/json, body {"event": "opened"|"closed", "alert":
{...}}; X-Civic-Event names the event, X-Civic-Delivery the outbox row (the same on every
retry, so a receiver can drop repeats), X-Civic-Signature is "sha256=" + the hex HMAC-SHA256 of
the body with the webhook's secret (`civic alerts config` prints it). Any 2xx is delivered;
anything else, or no answer in TIMEOUT_S, is tried again after 10 s, 20 s, 40 s ... up to an
hour between tries, for a day (then the row is given up and logged).
"""
import email.message
import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.request

from hub.alerts import messages, settings
from hub.common.logs import kv
from hub.store.connection import transaction
from hub.store.rollups import city_tz

log = logging.getLogger("civic.alerts")

TIMEOUT_S = 10
FIRST_RETRY_S = 10
MAX_RETRY_S = 3600
GIVE_UP_S = 86400


def channels(cfg):
    return [c for c, on in (("webhook", cfg["alert_webhook"]), ("email", cfg["alert_smtp"]))
            if on]


def enqueue(db, events, cfg, now):
    """One outbox row per event and configured channel (inside the caller's transaction)."""
    for event, alert_id in events:
        for channel in channels(cfg):
            db.execute("INSERT OR IGNORE INTO alert_outbox (alert, event, channel, created, "
                       "next_try) VALUES (?, ?, ?, ?, ?)", [alert_id, event, channel, now, now])


def alert_json(db, alert_id, lang):
    cols = ("id", "kind", "subject", "message", "detail", "opened", "closed", "acked",
            "acked_by")
    a = dict(zip(cols, db.execute("SELECT %s FROM alerts WHERE id = ?" % ", ".join(cols),
                                  [alert_id]).fetchone()))
    tz = city_tz(db)
    a["subject_label"] = messages.subject_label(a, lang)
    a["text"] = messages.describe(a, lang, tz)
    a["timezone"] = tz
    a["detail"] = json.loads(a["detail"] or "null")
    return a


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(cfg, row_id, event, alert):
    body = json.dumps({"event": event, "alert": alert}, sort_keys=True).encode()
    req = urllib.request.Request(cfg["alert_webhook"], data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "civic-hub",
        "X-Civic-Event": "alert." + event, "X-Civic-Delivery": str(row_id),
        "X-Civic-Signature": sign(cfg["alert_webhook_secret"], body)})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
        if not 200 <= r.status < 300:
            raise OSError("webhook answered %s" % r.status)


def _mail(cfg, event, alert, db):
    lang, tz = cfg["alert_language"], city_tz(db)
    m = email.message.EmailMessage()
    m["From"] = cfg["alert_email_from"]
    m["To"] = cfg["alert_email"]
    m["Subject"] = messages.headline(alert, event, lang, tz)
    m.set_content("%s\n\n%s\n" % (alert["text"], json.dumps(alert, indent=2, sort_keys=True)))
    host, port = cfg["alert_smtp"].rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT_S) as s:
        s.send_message(m)


def deliver_due(db, now=None):
    """Try every outbox row that is due. -> (delivered, failed) counts."""
    now = int(now or time.time())
    cfg = settings.read(db)
    rows = db.execute("SELECT id, alert, event, channel, attempts, created FROM alert_outbox "
                      "WHERE delivered IS NULL AND gave_up IS NULL AND next_try <= ? "
                      "ORDER BY id LIMIT 100", [now]).fetchall()
    done = failed = 0
    down = set()   # a channel that failed this round: its other rows wait for the next one
    for row_id, alert_id, event, channel, attempts, created in rows:
        if channel in down:
            continue
        error = None
        try:
            alert = alert_json(db, alert_id, cfg["alert_language"])
            if channel == "webhook" and cfg["alert_webhook"]:
                _post(cfg, row_id, event, alert)
            elif channel == "email" and cfg["alert_smtp"]:
                _mail(cfg, event, alert, db)
            else:
                error = "channel no longer configured"
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as e:
            error = repr(e)
        with transaction(db.conn):
            if error is None:
                done += 1
                db.execute("UPDATE alert_outbox SET delivered = ?, attempts = attempts + 1, "
                           "last_error = NULL WHERE id = ?", [now, row_id])
                log.info(kv("alert_delivered", alert=alert_id, what=event, channel=channel))
                continue
            failed += 1
            down.add(channel)
            wait = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** attempts)
            give_up = now - created >= GIVE_UP_S or error == "channel no longer configured"
            db.execute("UPDATE alert_outbox SET attempts = attempts + 1, next_try = ?, "
                       "last_error = ?, gave_up = ? WHERE id = ?",
                       [now + wait, error[:500], now if give_up else None, row_id])
            log.warning(kv("alert_delivery_failed", alert=alert_id, what=event,
                           channel=channel, error=error, retry_in_s=None if give_up else wait))
    return done, failed
