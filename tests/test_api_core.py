"""The hub's API (docs/API.md): staff access, summary, kiosks, exports, open data."""
import csv
import datetime
import io
import time

from click.testing import CliRunner

from hub.cli import cli
from tests.support.webdata import add_kiosk, store_taps

NOW = int(time.time())


def seed_small(db_path):
    add_kiosk(db_path, "north-1", "north")
    add_kiosk(db_path, "south-1", "south", online=False)
    store_taps(db_path, "north-1", [(1, NOW, "mood", 4, "q-1"), (2, NOW, "skill", "basics", None),
                                    (3, NOW - 3 * 86400, "mood", 1, None),
                                    (4, NOW, "skill", "robots", None)])
    store_taps(db_path, "south-1", [(1, NOW, "mood", 3, None), (2, NOW, "mood", 3, None)])


def token(db_path, role="viewer"):
    res = CliRunner().invoke(cli, ["token", "create", "--role", role, "--db", db_path])
    assert res.exit_code == 0, res.output
    return res.output.strip()


def auth(db_path, role="viewer"):
    return {"Authorization": "Bearer " + token(db_path, role)}


def test_cli_user_add_and_login(client, db_path):
    res = CliRunner().invoke(cli, ["user", "add", "ann", "--role", "admin", "--db", db_path],
                             input="correct horse\n")
    assert res.exit_code == 0, res.output
    again = CliRunner().invoke(cli, ["user", "add", "ann", "--db", db_path], input="whatever1\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = CliRunner().invoke(cli, ["user", "add", "bob", "--db", db_path], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    assert client.post("/login", data={"name": "ann", "password": "wrong"}).status_code == 401
    assert client.get("/api/v1/summary").status_code == 401
    r = client.post("/login", data={"name": "ann", "password": "correct horse"})
    assert r.status_code == 302
    assert client.get("/api/v1/summary").json["taps"] == 0
    from hub.store.connection import open_db
    stored = open_db(db_path).execute("SELECT password_hash FROM users").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_api_needs_staff_except_open_and_health(client, db_path):
    for path in ("/api/v1/summary", "/api/v1/kiosks", "/api/v1/export.csv", "/api/v1/overview"):
        r = client.get(path)
        assert r.status_code == 401 and "error" in r.json, path
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/open/summary").status_code == 200
    assert client.get("/healthz").json["ok"] is True
    assert client.get("/api/v1/summary", headers=auth(db_path)).status_code == 200


def test_summary_shape_and_filters(client, db_path):
    seed_small(db_path)
    h = auth(db_path)
    s = client.get("/api/v1/summary", headers=h).json
    assert s == {"taps": 6, "mood": {"count": 4, "index": round((11 / 4 - 1) * 100 / 3, 1),
                                     "by_value": {"1": 1, "2": 0, "3": 2, "4": 1}},
                 "skills": {"basics": 1, "eservices": 0, "safety": 0, "work": 0, "robots": 1},
                 "kiosks": {"total": 2, "online": 1}}
    n = client.get("/api/v1/summary?district=north", headers=h).json
    assert n["taps"] == 4 and n["kiosks"] == {"total": 1, "online": 1}
    today = time.strftime("%Y-%m-%d", time.localtime(NOW))
    # Only today's taps (the city's day; the test clock and the city may differ by a day)
    d = client.get("/api/v1/summary?from=%s&to=%s" % (today, today), headers=h).json
    assert d["taps"] in (5, 6) and d["mood"]["by_value"]["1"] == 0
    empty = client.get("/api/v1/summary?district=nowhere", headers=h).json
    assert empty["taps"] == 0 and empty["mood"]["index"] is None
    q = client.get("/api/v1/summary?question=q-1", headers=h).json
    assert q["taps"] == 1 and q["mood"]["by_value"]["4"] == 1


def test_summary_bad_parameters_are_400(client, db_path):
    h = auth(db_path)
    for qs in ("from=2026-13-01", "to=yesterday", "from=2026-02-02&to=2026-01-01",
               "kiosk=Not_A_Kiosk", "question=%20bad"):
        r = client.get("/api/v1/summary?" + qs, headers=h)
        assert r.status_code == 400 and r.json["error"], qs


def test_kiosks_list(client, db_path):
    seed_small(db_path)
    from hub.store.connection import open_db
    db = open_db(db_path)
    with db.conn:
        db.execute("INSERT INTO seq_gaps VALUES ('north-1', 10, 12)")
    ks = client.get("/api/v1/kiosks", headers=auth(db_path)).json
    assert [k["id"] for k in ks] == ["north-1", "south-1"]
    k = ks[0]
    for field in ("id", "online", "last_seen", "queue", "district", "fw", "filtered",
                  "config_rev", "first_seen", "missing"):
        assert field in k
    assert k["online"] is True and k["district"] == "north" and k["missing"] == [[10, 12]]
    assert ks[1]["online"] is False


def test_export_csv_has_every_tap(client, db_path):
    seed_small(db_path)
    r = client.get("/api/v1/export.csv", headers=auth(db_path))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert len(rows) == 6
    assert {(x["kiosk"], x["seq"]) for x in rows} >= {("north-1", "1"), ("south-1", "2")}
    assert rows[0]["kind"] == "mood" and rows[0]["value"] == "4" and rows[0]["q"] == "q-1"
    j = client.get("/api/v1/export.json?kiosk=south-1", headers=auth(db_path)).json
    assert [t["seq"] for t in j["taps"]] == [1, 2]


def _city_today():
    import zoneinfo
    return datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Amsterdam")).date()


def _last_month_noon():
    first = _city_today().replace(day=1) - datetime.timedelta(days=1)
    d = first.replace(day=15)
    return int(datetime.datetime(d.year, d.month, d.day, 12,
                                 tzinfo=datetime.timezone.utc).timestamp()), d.strftime("%Y-%m")


def test_open_summary_rounds_every_count_of_whole_months(app, client, db_path):
    ts, month = _last_month_noon()
    add_kiosk(db_path, "big-1", "big")
    add_kiosk(db_path, "tiny-1", "tiny")
    store_taps(db_path, "big-1", [(i, ts, "mood", 4 if i < 8 else 2, None) for i in range(10)] +
               [(100 + i, ts, "skill", "work", None) for i in range(6)] +
               [(200, ts, "skill", "safety", None), (201, NOW, "mood", 1, None)])
    store_taps(db_path, "tiny-1", [(1, ts, "mood", 3, None)])
    o = client.get("/api/v1/open/summary").json
    assert o["period"] == month and o["periods"][-1] == month  # this month is not over
    assert o["suppression_threshold"] == 5 and o["licence"] and o["definitions"]
    big, tiny = o["districts"]
    assert big["district"] == "big" and tiny["district"] == "tiny"
    rows = o["districts"] + [o["city"]]
    for d in rows:
        parts = list(d["mood"]["by_value"].values()) + list(d["skills"].values())
        assert all(v % 5 == 0 for v in parts + [d["taps"], d["mood"]["count"]]), d
        assert d["taps"] == sum(parts) and d["mood"]["count"] == sum(d["mood"]["by_value"].values())
    assert big["mood"]["by_value"]["4"] in (5, 10) and big["mood"]["by_value"]["2"] in (0, 5)
    assert tiny["taps"] in (0, 5) and o["city"]["district"] is None
    assert o["city"]["taps"] == big["taps"] + tiny["taps"]
    from hub.store.rollups import mood_index
    assert big["mood"]["index"] == mood_index(big["mood"]["by_value"])
    assert client.get("/api/v1/open/summary").json["districts"] == o["districts"]  # same each time
    for bad in ("from=2026-01-01", "to=2026-01-02", "district=big", "period=2026-13",
                "period=" + _city_today().strftime("%Y-%m"), "period=all"):
        r = client.get("/api/v1/open/summary?" + bad)
        assert r.status_code == 400 and "period" in r.json["error"], bad
    app.config["OPEN_DATA_MIN_COUNT"] = 1   # threshold 1: nothing to protect, exact counts
    o = client.get("/api/v1/open/summary?period=" + month).json
    assert o["districts"][0]["taps"] == 17 and o["districts"][1]["taps"] == 1
    assert o["districts"][0]["mood"]["by_value"] == {"1": 0, "2": 2, "3": 0, "4": 8}
    text = client.get("/api/v1/open/summary.csv?period=all").data.decode()
    assert "licence" in text and "%s,big,17," % "district" in text and ",city,,18," in text


def test_openapi_description_is_staff_only_like_the_rest_of_the_api(client, app):
    from hub.web.auth import create_token
    assert client.get("/api/v1/openapi.json").status_code == 401
    tok = create_token(app.config["DATABASE"], "viewer", None)
    r = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200 and "/summary" in r.get_json()["paths"]


def test_open_data_threshold_from_the_setting_over_the_config(app, client, db_path, monkeypatch):
    from hub import create_app
    from hub.store.connection import open_db
    ts, month = _last_month_noon()
    add_kiosk(db_path, "one-1", "one")
    store_taps(db_path, "one-1", [(i, ts, "skill", "work", None) for i in range(1, 8)])  # 7
    assert client.get("/api/v1/open/summary").json["districts"][0]["taps"] in (5, 10)
    db = open_db(db_path)
    with db.conn:
        db.execute("INSERT INTO settings VALUES ('open_data_min_count', '1')")
    db.conn.close()
    o = client.get("/api/v1/open/summary").json
    assert o["suppression_threshold"] == 1 and o["districts"][0]["taps"] == 7
    monkeypatch.setenv("CIVIC_OPEN_DATA_MIN_COUNT", "7")
    assert create_app({"DATABASE": db_path, "SECRET_KEY": "x"}).config["OPEN_DATA_MIN_COUNT"] == 7
