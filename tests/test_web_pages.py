"""The staff pages' data, through their JSON twins, and the forms that change things."""
import json
import time

import pytest

from hub.alerts.service import AlertService
from hub.store.connection import open_db
from hub.web.auth import add_user, create_token
from tests.support.procs import wait_until
from tests.support.webdata import add_kiosk, store_taps

NOW = int(time.time())


@pytest.fixture
def staff(client, db_path):
    """A logged-in admin session (CSRF off in the shared app fixture)."""
    add_user(db_path, "ann", "password1", "admin")
    r = client.post("/login", data={"name": "ann", "password": "password1"})
    assert r.status_code == 302
    return client


def city(db_path):
    add_kiosk(db_path, "n-1", "north")
    add_kiosk(db_path, "n-2", "north")
    add_kiosk(db_path, "s-1", "south", online=False, last_seen=NOW - 3600, fw="1.0.0", queue=7)
    add_kiosk(db_path, "e-1", "east")
    store_taps(db_path, "n-1", [(i, NOW - 60, "mood", 4, "q-1") for i in range(1, 9)] +
               [(20 + i, NOW - 60, "skill", "work", None) for i in range(6)])
    store_taps(db_path, "n-2", [(1, NOW - 60, "skill", "basics", None)])
    store_taps(db_path, "s-1", [(1, NOW - 60, "mood", 1, "q-1"), (2, NOW - 60, "mood", 2, None),
                                (5, NOW - 60, "skill", "work", None)])  # seq 3, 4 missing
    store_taps(db_path, "e-1", [(i, NOW - 60, "skill", "safety", None) for i in range(1, 4)])
    db = open_db(db_path)
    with db.conn:
        db.execute("INSERT INTO districts VALUES ('north', 20000), ('south', 1000), "
                   "('east', 50000)")
        # s-1 went quiet an hour ago (its taps above arrived then)
        db.execute("UPDATE kiosks SET last_seen = ? WHERE id = 's-1'", [NOW - 3600])


def test_pages_need_login_and_render(client, staff, db_path):
    city(db_path)
    for path in ("/overview", "/districts", "/kiosks", "/heatmap", "/questions", "/alerts",
                 "/admin/", "/admin/kiosks", "/admin/districts", "/admin/users", "/open"):
        assert staff.get(path).status_code == 200, path
        assert staff.get(path + "?lang=nl").status_code == 200, path
    assert staff.get("/overview?from=nope").status_code == 400  # a bad filter, logged in
    staff.post("/logout")
    r = client.get("/overview?district=north")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/open").status_code == 200  # public
    # Logged out, the login comes first, before any filter is read.
    r = client.get("/overview?from=nope")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_overview_twin_and_filters(staff, db_path):
    city(db_path)
    o = staff.get("/api/v1/overview").json
    assert o["taps"] == 21 and o["today"] == 21 and o["this_week"] == 21
    assert o["trend"]["points"][-1]["taps"] == 21 and o["trend"]["bucket"] == "day"
    w = staff.get("/api/v1/overview?from=2026-01-01&to=2026-06-30").json["trend"]
    assert w["bucket"] == "week" and w["points"][0]["start"] == "2025-12-29"
    assert w["points"][0]["days"] == 4 and w["points"][1]["days"] == 7  # Jan 1-4 only
    n = staff.get("/api/v1/overview?district=north").json
    assert n["taps"] == 15 and n["mood"]["index"] == 100.0 and n["skills"]["work"] == 6
    k = staff.get("/api/v1/overview?kiosk=s-1").json
    assert k["taps"] == 3 and k["kiosks"] == {"total": 1, "online": 0}
    assert staff.get("/api/v1/overview?kiosk=s-1&district=north").json["taps"] == 0
    assert staff.get("/api/v1/overview?question=q-1").json["mood"]["count"] == 9
    assert staff.get("/api/v1/overview?from=2020-01-01&to=2020-01-31").json["taps"] == 0
    assert staff.get("/api/v1/overview?to=2020-01-31&from=2020-02-01").status_code == 400


def test_districts_twin(staff, db_path):
    city(db_path)
    ds = {d["district"]: d for d in staff.get("/api/v1/districts").json["districts"]}
    assert ds["north"]["taps"] == 15 and ds["north"]["per_1000"] == 0.75
    assert ds["south"]["per_1000"] == 3.0 and ds["south"]["mood"]["index"] == pytest.approx(16.7)
    assert ds["east"]["skills"]["safety"] == 3 and ds["east"]["kiosks"] == 1
    # skills asked per 1,000 residents: north 0.35, south 1, east 0.06 -> east asks least
    assert [d for d in ds if ds[d]["asks_least"]] == ["east"]


def test_kiosk_health_twin(staff, db_path):
    city(db_path)
    ks = {k["id"]: k for k in staff.get("/api/v1/kiosks").json}
    s = ks["s-1"]
    assert s["online"] is False and s["stands_out"] is True and s["offline_seconds"] >= 3600
    assert s["missing"] == [[3, 4]] and s["missing_count"] == 2
    assert s["fw"] == "1.0.0" and s["queue"] == 7
    assert ks["n-1"]["stands_out"] is False
    assert [k["id"] for k in staff.get("/api/v1/kiosks?district=north").json] == ["n-1", "n-2"]


def test_heatmap_twin_uses_city_time(app, staff, db_path):
    add_kiosk(db_path, "n-1", "north")
    # 2026-06-01 is a Monday; 10:30 UTC is 12:30 in Amsterdam (summer time)
    ts = 1780309800
    store_taps(db_path, "n-1", [(1, ts, "mood", 4, "q-x"), (2, ts, "mood", 1, "q-x"),
                                (3, ts + 86400, "skill", "work", None)])
    h = staff.get("/api/v1/heatmap").json
    assert h["timezone"] == "Europe/Amsterdam"
    assert h["taps"][0][12] == 2 and h["taps"][1][12] == 1
    assert h["mood_index"][0][12] == 50.0 and h["mood_index"][1][12] is None
    assert sum(map(sum, h["taps"])) == 3
    assert staff.get("/api/v1/heatmap?question=q-x").json["taps"][0][12] == 2
    assert staff.get("/api/v1/heatmap?kiosk=n-1&to=2026-06-01").json["taps"][1][12] == 0
    assert staff.get("/api/v1/heatmap?district=south").json["taps"][0][12] == 0


def test_question_create_push_and_applied(staff, db_path):
    city(db_path)
    r = staff.post("/questions", data={"id": "q-park", "text_en": "Is the park clean?",
                                       "text_nl": "Is het park schoon?", "districts": ["north"],
                                       "kiosks": ["e-1"]})
    assert r.status_code == 302
    db = open_db(db_path)
    rows = db.execute("SELECT kiosk, rev, payload, published FROM kiosk_configs "
                      "ORDER BY kiosk").fetchall()
    assert [r[0] for r in rows] == ["e-1", "n-1", "n-2"]
    cfg = json.loads(rows[0][2])
    assert cfg["rev"] == 1 and rows[0][3] is None
    assert cfg["question"] == {"id": "q-park", "text": {"en": "Is the park clean?",
                                                        "nl": "Is het park schoon?"}}
    assert cfg["skills"] == ["basics", "eservices", "safety", "work"]
    q = {x["id"]: x for x in staff.get("/api/v1/questions").json["questions"]}["q-park"]
    assert q["applied"] == 0 and len(q["pushed_to"]) == 3
    with db.conn:  # the kiosk reports the config it applied (what the ingest writes)
        db.execute("UPDATE kiosks SET config_rev = 1 WHERE id = 'n-1'")
    q = {x["id"]: x for x in staff.get("/api/v1/questions").json["questions"]}["q-park"]
    assert q["applied"] == 1
    # a second push gives a higher rev; a bad one is refused
    staff.post("/questions/q-park/push", data={"kiosks": ["n-1"]})
    assert db.execute("SELECT rev FROM kiosk_configs WHERE kiosk = 'n-1'").fetchone()[0] == 2
    r = staff.post("/questions", data={"text_en": ""})
    assert r.status_code == 302 and "error=" in r.headers["Location"]
    res = {x["id"]: x for x in staff.get("/api/v1/questions").json["questions"]}["q-1"]
    assert res["count"] == 9 and res["by_value"]["4"] == 8
    assert {d["district"]: d["count"] for d in res["districts"]} == {"north": 8, "south": 1}


def test_question_api_for_scripts(client, db_path):
    city(db_path)
    admin = {"Authorization": "Bearer " + create_token(db_path, "admin")}
    viewer = {"Authorization": "Bearer " + create_token(db_path, "viewer")}
    body = {"id": "q-api", "text": {"en": "Hello?"}, "kiosks": ["s-1"]}
    assert client.post("/api/v1/questions", json=body, headers=viewer).status_code == 403
    r = client.post("/api/v1/questions", json=body, headers=admin)
    assert r.status_code == 201 and r.json["pushed"] == [{"kiosk": "s-1", "rev": 1}]
    bad = client.post("/api/v1/questions", json={"text": {"en": "x"}, "kiosks": ["zz"]},
                      headers=admin)
    assert bad.status_code == 400 and "zz" in bad.json["error"]


@pytest.fixture
def alert_loop(db_path):
    """The hub's background alert loop, as `civic serve` runs it, quick for tests."""
    svc = AlertService(db_path, every_s=0.05).start()
    yield svc
    svc.stop()


def _alerts_when(staff, done):
    out = []
    wait_until(lambda: done(out.append(staff.get("/api/v1/alerts").json) or out[-1]))
    return out[-1]


def test_a_get_never_evaluates_alerts(staff, db_path):
    add_kiosk(db_path, "s-1", "south", online=False, last_seen=NOW - 7200)
    assert staff.get("/alerts").status_code == 200
    assert staff.get("/api/v1/alerts").json["open"] == []
    assert open_db(db_path).execute("SELECT count(*) FROM alerts").fetchone()[0] == 0


def test_alerts_offline_mood_drop_and_ack(staff, db_path, alert_loop):
    add_kiosk(db_path, "n-1", "north")
    add_kiosk(db_path, "s-1", "south", online=False, last_seen=NOW - 7200)
    day = 86400
    taps = [(i, NOW - 10 * day, "mood", 4, None) for i in range(1, 31)]
    taps += [(100 + i, NOW - 2 * day, "mood", 1, None) for i in range(30)]
    store_taps(db_path, "n-1", taps)
    a = _alerts_when(staff, lambda a: len(a["open"]) >= 3)
    kinds = {(x["kind"], x["subject"]) for x in a["open"]}
    assert ("offline", "s-1") in kinds and ("mood-drop", "d:north") in kinds
    assert ("mood-drop", "*") in kinds
    aid = [x["id"] for x in a["open"] if x["subject"] == "s-1"][0]
    assert staff.post("/alerts/%d/ack" % aid).status_code == 302
    a = staff.get("/api/v1/alerts").json
    assert [x["acked_by"] for x in a["open"] if x["id"] == aid] == ["ann"]
    db = open_db(db_path)
    with db.conn:
        db.execute("UPDATE kiosks SET online = 1, last_seen = ? WHERE id = 's-1'", [NOW])
    a = _alerts_when(staff, lambda a: aid in [x["id"] for x in a["past"]])
    assert aid not in [x["id"] for x in a["open"]]
    staff.post("/alerts/settings", data={"alert_mood_drop": "99"})
    assert staff.get("/api/v1/alerts").json["thresholds"]["alert_mood_drop"] == 99


def test_admin_kiosk_district_population_users(staff, client, db_path):
    city(db_path)
    r = staff.post("/admin/kiosks/e-1", data={"district": "north", "place": "Library",
                                              "lat": "52.37", "lon": "4.89"})
    assert r.status_code == 302 and "error" not in r.headers["Location"]
    k = {k["id"]: k for k in staff.get("/api/v1/kiosks").json}["e-1"]
    assert (k["district"], k["place"], k["lat"], k["lon"]) == ("north", "Library", 52.37, 4.89)
    assert staff.get("/api/v1/summary?district=north").json["skills"]["safety"] == 3
    assert staff.get("/api/v1/summary?district=east").json["taps"] == 0
    r = staff.post("/admin/kiosks/e-1", data={"lat": "123"})
    assert "error=" in r.headers["Location"]
    staff.post("/admin/districts", data={"name": "north", "population": "30000"})
    ds = {d["district"]: d for d in staff.get("/api/v1/districts").json["districts"]}
    assert ds["north"]["population"] == 30000
    staff.post("/admin/users", data={"name": "vic", "password": "viewer-pass", "role": "viewer"})
    assert [u["name"] for u in staff.get("/api/v1/users").json] == ["ann", "vic"]
    staff.post("/logout")
    client.post("/login", data={"name": "vic", "password": "viewer-pass"})
    assert client.get("/overview").status_code == 200
    assert client.get("/admin/kiosks").status_code == 403
    assert client.post("/admin/districts", data={"name": "x"}).status_code == 403
    assert client.post("/questions", data={"text_en": "x"}).status_code == 403
    assert client.get("/api/v1/users").status_code == 403


def test_csrf_required_on_forms(tmp_path):
    from hub import create_app
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "c.db"), "SECRET_KEY": "t"})
    add_user(app.config["DATABASE"], "ann", "password1", "admin")
    c = app.test_client()
    assert c.post("/login", data={"name": "ann", "password": "password1"}).status_code == 400
    page = c.get("/login").data.decode()
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.post("/login", data={"name": "ann", "password": "password1", "csrf_token": token})
    assert r.status_code == 302
    assert c.post("/admin/districts", data={"name": "x"}).status_code == 400
    # the session's token changes at login (no fixation); forms carry the new one
    assert c.post("/admin/districts", data={"name": "x", "csrf_token": token}).status_code == 400
    page = c.get("/admin/districts").data.decode()
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert c.post("/admin/districts", data={"name": "x", "csrf_token": token}).status_code == 302
    # scripts with a token need no CSRF token (no cookie is involved)
    tok = create_token(app.config["DATABASE"], "admin")
    r = c.__class__(app).post("/api/v1/questions", json={"text": {"en": "hi"}},
                              headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 201


def test_secure_cookie_setting(tmp_path, monkeypatch):
    from hub import create_app
    monkeypatch.setenv("CIVIC_SECURE_COOKIES", "1")
    app = create_app({"DATABASE": str(tmp_path / "c.db"), "SECRET_KEY": "t"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_today_and_this_week_ignore_the_date_range(staff, db_path):
    city(db_path)
    old = "2020-01-01"
    o = staff.get("/api/v1/overview?from=%s&to=%s" % (old, old)).json
    assert o["taps"] == 0 and o["today"] == 21 and o["this_week"] == 21
    t = o["today_date"]
    o = staff.get("/api/v1/overview?from=%s" % t).json
    assert o["today"] == 21 and o["this_week"] == 21


def test_admin_tokens_created_once_and_revoked(staff, client, db_path):
    page = staff.post("/admin/tokens", data={"label": "open data export", "role": "viewer"})
    token = page.data.decode().split('<code id="new-token">')[1].split("<")[0]
    other = client.application.test_client()
    h = {"Authorization": "Bearer " + token}
    assert other.get("/api/v1/summary", headers=h).status_code == 200
    assert other.get("/api/v1/users", headers=h).status_code == 403  # a viewer token
    assert token not in staff.get("/admin/tokens").data.decode()  # never shown again
    tid = open_db(db_path).execute("SELECT id FROM tokens WHERE label = 'open data export'"
                                   ).fetchone()[0]
    staff.post("/admin/tokens/%d/revoke" % tid)
    assert other.get("/api/v1/summary", headers=h).status_code == 401


def test_login_returns_to_the_page_asked_but_never_off_site(client, db_path):
    add_user(db_path, "ann", "password1", "admin")
    form = {"name": "ann", "password": "password1"}
    r = client.post("/login?next=/districts%3Fdistrict%3Dnorth", data=form)
    assert r.headers["Location"] == "/districts?district=north"
    for bad in ("//evil.example", "/%5Cevil.example", "https://evil.example"):
        client.post("/logout")
        assert client.post("/login?next=" + bad, data=form).headers["Location"] == "/overview"


def test_no_get_writes_to_the_database(app, staff, db_path):
    """Datasette's rule: the ingest writes taps, a page view never writes. Every GET of every
    page and JSON twin, as a session and with a token; another connection's data_version
    changes whenever anyone else commits, so it would show any write."""
    city(db_path)
    token = create_token(db_path, "viewer")
    watcher = open_db(db_path)
    before = watcher.execute("PRAGMA data_version").fetchone()[0]
    rules = sorted(r.rule for r in app.url_map.iter_rules()
                   if "GET" in r.methods and "<" not in r.rule and r.endpoint != "static")
    assert "/api/v1/alerts" in rules and "/overview" in rules
    bearer = app.test_client()
    for rule in rules:
        assert staff.get(rule).status_code < 500, rule
        assert bearer.get(rule, headers={"Authorization": "Bearer " + token}).status_code < 500
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == before
    # what the token's use left behind is written later, by the flusher, in one batch
    usage = app.extensions["civic_token_usage"]
    assert usage.flush() == 1
    assert watcher.execute("SELECT last_used FROM tokens").fetchone()[0] is not None
