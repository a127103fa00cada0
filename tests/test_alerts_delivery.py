"""Alerts that reach people: evaluated by the hub's background loop, delivered by webhook (JSON,
signed, retried with back-off) and by e-mail, against a real local HTTP receiver and a real
SMTP server (aiosmtpd); and the hub's own liveness rule."""
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from hub.alerts import notify, service, settings
from hub.cli import cli
from hub.store.connection import open_db
from tests.support.procs import free_port, wait_until
from tests.support.webdata import add_kiosk

NOW = int(time.time())


class Receiver:
    """A webhook receiver on 127.0.0.1: records each POST; answers `codes` in turn, then 204."""

    def __init__(self, codes=()):
        self.posts, self.codes = [], list(codes)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append((dict(self.headers), body))
                self.send_response(outer.codes.pop(0) if outer.codes else 204)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Mailbox:
    def __init__(self):
        self.mails = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"

    def close(self):
        self.controller.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def mailbox():
    m = Mailbox()
    yield m
    m.close()


def configure(db_path, **kw):
    r = CliRunner().invoke(cli, ["alerts", "config", "--db", db_path] + [
        a for k, v in kw.items() for a in ("--" + k.replace("_", "-"), str(v))])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_an_offline_kiosk_is_posted_signed_and_mailed_when_it_opens_and_ends(
        db_path, receiver, mailbox):
    cfg = configure(db_path, offline_minutes=5, webhook=receiver.url,
                    smtp="127.0.0.1:%d" % mailbox.port, email="ops@city.example", language="nl")
    secret = cfg["alert_webhook_secret"]
    assert len(secret) > 30
    add_kiosk(db_path, "lib-1", "north", online=False, last_seen=NOW - 3600)
    db = open_db(db_path)
    assert service.run_once(db, NOW) == [("opened", 1)]
    assert len(receiver.posts) == 1 and len(mailbox.mails) == 1
    headers, body = receiver.posts[0]
    assert headers["X-Civic-Signature"] == "sha256=" + hmac.new(
        secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Civic-Event"] == "alert.opened"
    sent = json.loads(body)
    assert sent["event"] == "opened" and sent["alert"]["subject"] == "lib-1"
    assert sent["alert"]["detail"] == {"since": NOW - 3600}
    assert "niet meer gehoord sinds" in sent["alert"]["text"]   # the configured language
    rcpt, mail = mailbox.mails[0]
    subject = str(email.message_from_string(mail, policy=email.policy.default)["Subject"]).strip()
    assert rcpt == ["ops@city.example"] and subject.startswith("[civic] Melding: kiosk lib-1")
    # the kiosk comes back: the alert ends, and that is told too
    db.execute("UPDATE kiosks SET online = 1, last_seen = ? WHERE id = 'lib-1'", [NOW + 60])
    db.conn.commit()
    assert service.run_once(db, NOW + 60) == [("closed", 1)]
    assert [json.loads(b)["event"] for _h, b in receiver.posts] == ["opened", "closed"]
    assert str(email.message_from_string(mailbox.mails[1][1], policy=email.policy.default)[
        "Subject"]).strip().startswith("[civic] Opgelost:")
    # nothing twice: a later round has nothing new to say
    assert service.run_once(db, NOW + 120) == []
    assert len(receiver.posts) == 2 and len(mailbox.mails) == 2


def test_a_receiver_that_fails_gets_the_same_delivery_again_with_back_off(db_path):
    receiver = Receiver(codes=[500, 503])
    try:
        configure(db_path, offline_minutes=1, webhook=receiver.url)
        add_kiosk(db_path, "sq-1", online=False, last_seen=NOW - 600)
        db = open_db(db_path)
        service.run_once(db, NOW)
        row = db.execute("SELECT attempts, next_try, delivered FROM alert_outbox").fetchone()
        assert row == (1, NOW + notify.FIRST_RETRY_S, None)
        assert notify.deliver_due(db, NOW + 1) == (0, 0)               # not due yet
        assert notify.deliver_due(db, NOW + 10) == (0, 1)              # 503: twice as long
        assert db.execute("SELECT next_try FROM alert_outbox").fetchone()[0] == NOW + 30
        assert notify.deliver_due(db, NOW + 30) == (1, 0)
        ids = {h["X-Civic-Delivery"] for h, _b in receiver.posts}
        assert len(receiver.posts) == 3 and len(ids) == 1   # one delivery id: drop repeats
    finally:
        receiver.close()


def test_a_kiosk_silent_for_three_heartbeats_is_offline_whatever_the_broker_says(
        db_path, client):
    """A frozen kiosk keeps its TCP connection, so the broker sends no will: `online` stays 1.
    The hub counts it offline after three missed heartbeats, on every page and in alerts."""
    configure(db_path, heartbeat_seconds=60, offline_minutes=1)
    add_kiosk(db_path, "frozen-1", online=True, last_seen=NOW - 181)
    add_kiosk(db_path, "fine-1", online=True, last_seen=NOW - 100)
    db = open_db(db_path)
    assert service.run_once(db, NOW) == [("opened", 1)]
    assert db.execute("SELECT subject FROM alerts").fetchone()[0] == "frozen-1"
    from hub.web.aggregates import kiosk_counts
    from hub.web.filters import Filters
    from hub.web.kiosk_health import kiosk_list
    listed = {k["id"]: k for k in kiosk_list(db, now=NOW)}
    assert listed["frozen-1"]["online"] is False and listed["frozen-1"]["silent"] is True
    assert listed["fine-1"]["online"] is True
    assert kiosk_counts(db, Filters(), now=NOW) == {"total": 2, "online": 1}


def test_alerts_config_refuses_what_would_not_work(db_path):
    for args, says in ((["--webhook", "ftp://x"], "webhook"), (["--smtp", "mail:25"], "both"),
                       (["--offline-minutes", "0"], "whole number")):
        r = CliRunner().invoke(cli, ["alerts", "config", "--db", db_path] + args)
        assert r.exit_code == 1 and says in r.output, r.output
    with open_db(db_path).conn as c:
        assert c.execute("SELECT count(*) FROM settings WHERE key LIKE 'alert_%'").fetchone() \
            == (0,)


def test_the_background_loop_keeps_the_menu_count_and_overview(staff_client, db_path):
    add_kiosk(db_path, "gone-1", online=False, last_seen=NOW - 7200)
    svc = service.AlertService(db_path, every_s=0.05).start()
    try:
        assert wait_until(lambda: staff_client.get("/api/v1/overview").json["alerts_open"] == 1)
        page = staff_client.get("/overview").get_data(as_text=True)
        assert 'id="open-alert-count"' in page and 'id="alerts-open">1<' in page
        nl = staff_client.get("/api/v1/alerts?lang=nl").json["open"][0]["text"]
        assert nl.startswith("kiosk gone-1 is niet meer gehoord sinds")
    finally:
        svc.stop()
    assert settings.read(open_db(db_path))["alert_offline_minutes"] == 30


@pytest.fixture
def staff_client(client, db_path):
    from hub.web.auth import add_user
    add_user(db_path, "ann", "password1", "admin")
    assert client.post("/login", data={"name": "ann", "password": "password1"}).status_code \
        == 302
    return client
