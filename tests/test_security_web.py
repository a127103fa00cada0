"""Issue 14, web side: each attack reproduced from outside against the app; each must fail."""
import json
import os
import stat

import pytest
from flask.sessions import SecureCookieSessionInterface

from hub.store.connection import open_db
from hub.web.auth import add_user
from tests.support.webdata import add_kiosk


def login(c, name, password):
    return c.post("/login", data={"name": name, "password": password})


@pytest.fixture
def admin(client, db_path):
    add_user(db_path, "ann", "password1", "admin")
    assert login(client, "ann", "password1").status_code == 302
    return client


def test_attack1_deleted_users_cookie_never_opens_a_new_users_session(admin, app, db_path):
    admin.post("/admin/users", data={"name": "temp", "password": "temp-pass", "role": "viewer"})
    temp = app.test_client()
    assert login(temp, "temp", "temp-pass").status_code == 302
    assert temp.get("/api/v1/summary").status_code == 200
    tid = open_db(db_path).execute("SELECT id FROM users WHERE name='temp'").fetchone()[0]
    admin.post("/admin/users/%d/delete" % tid)
    admin.post("/admin/users", data={"name": "boss", "password": "boss-pass", "role": "admin"})
    bid = open_db(db_path).execute("SELECT id FROM users WHERE name='boss'").fetchone()[0]
    assert bid != tid  # never reused
    assert temp.get("/api/v1/users").status_code == 401
    assert temp.get("/admin/tokens").status_code == 302


def test_attack1_logout_password_and_role_change_end_every_session(admin, app, db_path):
    add_user(db_path, "vic", "viewer-pass", "viewer")
    a, b = app.test_client(), app.test_client()
    for c in (a, b):
        assert login(c, "vic", "viewer-pass").status_code == 302
    saved = a.get_cookie("session").value
    a.post("/logout")
    b_fresh = app.test_client()
    b_fresh.set_cookie("session", saved)
    assert b_fresh.get("/api/v1/summary").status_code == 401  # the saved cookie is dead
    assert b.get("/api/v1/summary").status_code == 401  # and so is the other browser's
    # role change by an admin ends the sessions
    assert login(a, "vic", "viewer-pass").status_code == 302
    vid = open_db(db_path).execute("SELECT id FROM users WHERE name='vic'").fetchone()[0]
    r = admin.post("/admin/users/%d/role" % vid, data={"role": "admin"})
    assert r.status_code == 302
    assert a.get("/api/v1/summary").status_code == 401
    # own password change: the old password no longer works, other sessions end
    assert login(a, "vic", "viewer-pass").status_code == 302
    assert login(b, "vic", "viewer-pass").status_code == 302
    r = a.post("/account/password", data={"current": "viewer-pass", "new": "new-pass-1"})
    assert r.status_code == 302
    assert b.get("/api/v1/summary").status_code == 401
    assert a.get("/api/v1/summary").status_code == 200  # the one that changed it stays in
    assert login(app.test_client(), "vic", "viewer-pass").status_code == 401
    # wrong current password: refused
    r = a.post("/account/password", data={"current": "nope-nope", "new": "other-pass"})
    assert r.status_code == 400
    # an admin sets another user's password: that user's sessions end
    admin.post("/admin/users/%d/password" % vid, data={"password": "admin-set-1"})
    assert a.get("/api/v1/summary").status_code == 401
    assert login(app.test_client(), "vic", "admin-set-1").status_code == 302


def test_attack2_database_and_secret_not_readable_by_others(tmp_path, monkeypatch):
    from hub import create_app
    from hub.store.connection import exposure_warnings
    monkeypatch.setattr(os, "umask", os.umask)  # the test's own umask stays
    old = os.umask(0o022)
    try:
        path = str(tmp_path / "new" / "civic.db")
        os.makedirs(os.path.dirname(path))
        create_app({"TESTING": True, "DATABASE": path})  # secret key written to the db
    finally:
        os.umask(old)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            assert stat.S_IMODE(os.stat(path + suffix).st_mode) & 0o077 == 0, suffix
    assert exposure_warnings(path) == []
    os.chmod(path, 0o644)
    assert "civic.db" in exposure_warnings(path)[0]
    # a forged session signed with some other key is nothing
    app = create_app({"TESTING": True, "DATABASE": path})
    add_user(path, "root", "password1", "admin")
    forged = SecureCookieSessionInterface().get_signing_serializer(
        create_app({"TESTING": True, "DATABASE": path, "SECRET_KEY": "guess"})).dumps({"uid": 1})
    c = app.test_client()
    c.set_cookie("session", forged)
    assert c.get("/api/v1/users").status_code == 401


def test_attack3_no_open_redirect_and_no_500_on_next(client, db_path):
    add_user(db_path, "ann", "password1", "admin")
    form = {"name": "ann", "password": "password1"}
    for bad in ("/%09/evil.example/x", "/%0A/evil.example", "/%0D%0ALocation:%20x",
                "/%20/evil.example", "/%7F/x"):
        client.post("/logout")
        r = client.post("/login?next=" + bad, data=form)
        assert r.status_code == 302, bad
        assert r.headers["Location"] == "/overview", bad


def test_attack6_login_throttled_per_account_and_address(app, db_path, monkeypatch):
    from hub.web import throttle
    now = [1_800_000_000.0]
    monkeypatch.setattr(throttle, "now", lambda: now[0])
    add_user(db_path, "ann", "password1", "admin")
    c = app.test_client()
    codes = [login(c, "ann", "wrong-%d" % i).status_code for i in range(30)]
    assert codes[:5] == [401] * 5 and 429 in codes
    r = login(c, "ann", "password1")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # From another address the account is held for a short while only (at most a minute) ...
    other = app.test_client()
    env = {"REMOTE_ADDR": "10.9.9.9"}
    r = other.post("/login", data={"name": "ann", "password": "password1"}, environ_base=env)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) <= 60
    now[0] += 61
    r = other.post("/login", data={"name": "ann", "password": "password1"}, environ_base=env)
    assert r.status_code == 302
    # ... while the guessing address stays locked out longer, whatever name it tries.
    assert login(c, "ann", "password1").status_code == 429
    # A browser that logged in as ann before passes the account hold (device cookie).
    for i in range(10):
        app.test_client().post("/login", data={"name": "ann", "password": "x%d" % i},
                               environ_base={"REMOTE_ADDR": "10.8.8.%d" % i})
    r = other.post("/login", data={"name": "ann", "password": "password1"}, environ_base=env)
    assert r.status_code == 302


@pytest.mark.parametrize("url", [
    "/overview?to=9999-12-31", "/api/v1/summary?to=9999-12-31",
    "/api/v1/export.csv?to=9999-12-31", "/overview?from=0001-01-01&to=9999-11-30",
    "/api/v1/summary?from=0001-01-01", "/overview?_method=POST", "/districts?_method=POST",
])
def test_attack7_bad_parameters_are_400_not_500(admin, url):
    r = admin.get(url)
    assert r.status_code == 400, (url, r.status_code)
    assert r.data


def test_attack7_huge_ids_and_nested_json(admin):
    big = "9" * 20
    for url in ("/admin/users/%s/delete" % big, "/admin/tokens/%s/revoke" % big):
        r = admin.post(url)
        assert r.status_code == 400, url
    # alerts already bounded their ids (no such alert): never a 500 either
    assert admin.post("/alerts/%s/ack" % big).status_code == 302
    assert admin.post("/api/v1/alerts/%s/ack" % big).status_code == 404
    r = admin.post("/api/v1/questions", data="[" * 100000 + "]" * 100000,
                   content_type="application/json")
    assert r.status_code == 400 and "error" in r.get_json()


def test_attack7_long_ranges_are_bounded(admin, db_path):
    from hub.web.filters import MAX_SPAN_DAYS
    r = admin.get("/api/v1/summary?from=2010-01-01&to=2099-12-31")
    assert r.status_code == 400 and str(MAX_SPAN_DAYS) in r.get_json()["error"]
    r = admin.get("/api/v1/summary?from=2020-01-01&to=2025-12-31")
    assert r.status_code == 200


def test_attack10_security_headers_and_no_inline_scripts(admin, client):
    for url in ("/overview", "/login", "/api/v1/open/summary"):
        r = client.get(url)
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert "script-src 'self'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    tdir = os.path.join(os.path.dirname(__file__), "..", "hub", "web", "templates")
    import re
    for name in os.listdir(tdir):
        text = open(os.path.join(tdir, name)).read()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), name
        assert not re.search(r"\son[a-z]+=", text), name
        assert not re.search(r"\sstyle=", text), name
        assert "<style" not in text, name


def test_attack10_tokens_expire_and_are_listed(admin, app, db_path, monkeypatch):
    page = admin.post("/admin/tokens", data={"label": "short", "role": "viewer", "days": "1"})
    token = page.data.decode().split('<code id="new-token">')[1].split("<")[0]
    h = {"Authorization": "Bearer " + token}
    other = app.test_client()
    assert other.get("/api/v1/summary", headers=h).status_code == 200
    listing = admin.get("/admin/tokens").data.decode()
    assert "short" in listing and "expires" in listing.lower()
    db = open_db(db_path)
    with db.conn:
        db.execute("UPDATE tokens SET expires = 1 WHERE label = 'short'")
    assert other.get("/api/v1/summary", headers=h).status_code == 401


def test_audit_log_of_admin_actions(admin, db_path):
    add_kiosk(db_path, "k-1", "north")
    admin.post("/admin/users", data={"name": "zed", "password": "zed-pass-1", "role": "viewer"})
    zid = open_db(db_path).execute("SELECT id FROM users WHERE name='zed'").fetchone()[0]
    admin.post("/admin/users/%d/delete" % zid)
    r = admin.post("/api/v1/questions", json={"text": {"en": "How was it?"}, "kiosks": ["k-1"]})
    assert r.status_code in (200, 201), r.data
    log = admin.get("/api/v1/audit").get_json()
    actions = [(e["actor"], e["action"]) for e in log]
    assert ("ann", "user-create") in actions and ("ann", "user-delete") in actions
    assert ("ann", "question-push") in actions
    push = [e for e in log if e["action"] == "question-push"][0]
    assert "k-1" in push["detail"]
    assert "zed" in admin.get("/admin/audit").data.decode()


def test_token_create_cli_sets_an_expiry(db_path):
    import time
    from click.testing import CliRunner
    from hub.cli import cli
    r = CliRunner().invoke(cli, ["token", "create", "--days", "7", "--label", "cron",
                                 "--db", db_path])
    assert r.exit_code == 0, r.output
    expires = open_db(db_path).execute("SELECT expires FROM tokens WHERE label = 'cron'"
                                       ).fetchone()[0]
    assert abs(expires - (time.time() + 7 * 86400)) < 60
