"""Firmware updates on the dashboard: the Firmware page and its JSON twin, the canary rule,
who may roll out (admins, with a CSRF token), and Kiosk health showing each kiosk's update."""
import hashlib
import json
import time

import pytest

from hub.store.connection import open_db
from hub.updates import update_keys
from hub.web.auth import add_user, create_token
from tests.support.webdata import add_kiosk


def fake_release(db_path, version):
    """A recorded release without mpy-cross (the page needs only its rows)."""
    data = b"fake app for " + version.encode()
    sha = hashlib.sha256(data).hexdigest()
    manifest = {"v": version, "mpy": "6.3", "min_mp": "1.23.0", "chunk_max": 2048,
                "files": [["app.mpy", len(data), sha]]}
    db = open_db(db_path)
    with db.conn:
        db.execute("INSERT INTO fw_releases (version, created, mpy, min_mp, manifest, bytes) "
                   "VALUES (?, ?, '6.3', '1.23.0', ?, ?)",
                   [version, int(time.time()), json.dumps(manifest), len(data)])
        db.execute("INSERT INTO fw_release_files VALUES (?, 0, 'app.mpy', ?, ?, ?)",
                   [version, len(data), sha, data])
    db.conn.close()


def fleet(db_path):
    for kid, district in (("n-1", "north"), ("n-2", "north"), ("s-1", "south")):
        add_kiosk(db_path, kid, district, fw="1.0.0")
    db = open_db(db_path)
    with db.conn:
        for kid in ("n-1", "n-2", "s-1"):
            update_keys.set_new_key(db.conn, kid)
    db.conn.close()
    fake_release(db_path, "1.0.1")


def login(client, db_path, name, role):
    add_user(db_path, name, "password1", role)
    assert client.post("/login", data={"name": name, "password": "password1"}).status_code \
        == 302
    return client


def offers(db_path):
    db = open_db(db_path)
    try:
        return db.execute("SELECT kiosk, n, version, state FROM fw_offers ORDER BY kiosk, n"
                          ).fetchall()
    finally:
        db.conn.close()


def set_state(db_path, kiosk, state, reason=None, crash=None):
    """What the ingest's Writer records from the kiosk's status (tested over MQTT elsewhere)."""
    db = open_db(db_path)
    with db.conn:
        db.execute("UPDATE fw_offers SET state = ?, reason = ?, crash = ? WHERE kiosk = ?",
                   [state, reason, crash, kiosk])
    db.conn.close()


def test_canary_first_then_a_district(client, db_path):
    fleet(db_path)
    admin = login(client, db_path, "ann", "admin")
    page = admin.get("/admin/firmware").data.decode()
    assert 'id="rollout-form"' in page and "1.0.1" in page
    # Not to a district before one kiosk confirmed the release: nothing is recorded.
    r = admin.post("/admin/firmware/rollout", data={"version": "1.0.1", "target": "district",
                                                    "district": "north"})
    assert r.status_code == 302 and "one+kiosk+first" in r.headers["Location"]
    assert offers(db_path) == []
    r = admin.post("/admin/firmware/rollout", data={"version": "1.0.1", "target": "kiosk",
                                                    "kiosk": "n-1"})
    assert "offered=1" in r.headers["Location"]
    assert offers(db_path) == [("n-1", 1, "1.0.1", "offered")]
    assert "Release 1.0.1 offered to 1 kiosks" in admin.get(r.headers["Location"]).data.decode()
    set_state(db_path, "n-1", "confirmed")
    admin.post("/admin/firmware/rollout", data={"version": "1.0.1", "target": "district",
                                                "district": "north"})
    assert offers(db_path) == [("n-1", 1, "1.0.1", "confirmed"), ("n-1", 2, "1.0.1", "offered"),
                               ("n-2", 1, "1.0.1", "offered")]
    # Bad forms change nothing and say why.
    for form, says in (({"version": "", "target": "kiosk", "kiosk": "n-1"}, "Choose+a+release"),
                       ({"version": "1.0.1", "target": "kiosk"}, "Choose+the+kiosk"),
                       ({"version": "1.0.1", "target": "moon"}, "Choose+who+gets"),
                       ({"version": "9.9", "target": "kiosk", "kiosk": "n-1"}, "no+release+9.9"),
                       ({"version": "1.0.1", "target": "kiosk", "kiosk": "zz"}, "no+such+kiosk")):
        r = admin.post("/admin/firmware/rollout", data=form)
        assert r.status_code == 302 and says in r.headers["Location"], (form, r.headers)
    assert len(offers(db_path)) == 3
    audit = open_db(db_path).execute("SELECT action, detail FROM audit").fetchall()
    assert [a for a, _d in audit] == ["firmware-rollout", "firmware-rollout"]
    assert json.loads(audit[1][1])["kiosks"] == ["n-1", "n-2"]


def test_viewers_read_the_api_but_cannot_roll_out(client, db_path):
    fleet(db_path)
    viewer = login(client, db_path, "vic", "viewer")
    assert viewer.get("/admin/firmware").status_code == 403
    assert viewer.post("/admin/firmware/rollout", data={
        "version": "1.0.1", "target": "kiosk", "kiosk": "n-1"}).status_code == 403
    assert offers(db_path) == []
    got = viewer.get("/api/v1/firmware").get_json()
    assert [r["version"] for r in got["releases"]] == ["1.0.1"]
    assert {k["id"]: (k["fw"], k["update"]) for k in got["kiosks"]} == {
        "n-1": ("1.0.0", None), "n-2": ("1.0.0", None), "s-1": ("1.0.0", None)}
    token = create_token(db_path, "viewer")
    anon = client.application.test_client()
    assert anon.get("/api/v1/firmware").status_code == 401
    r = anon.get("/api/v1/firmware?district=south", headers={"Authorization": "Bearer " + token})
    assert [k["id"] for k in r.get_json()["kiosks"]] == ["s-1"]


def test_rollout_form_needs_the_csrf_token(tmp_path):
    from hub import create_app
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "c.db"), "SECRET_KEY": "t"})
    db_path = app.config["DATABASE"]
    fleet(db_path)
    add_user(db_path, "ann", "password1", "admin")
    c = app.test_client()
    token = c.get("/login").data.decode().split('name="csrf_token" value="')[1].split('"')[0]
    assert c.post("/login", data={"name": "ann", "password": "password1",
                                  "csrf_token": token}).status_code == 302
    form = {"version": "1.0.1", "target": "kiosk", "kiosk": "n-1"}
    assert c.post("/admin/firmware/rollout", data=form).status_code == 400
    assert offers(db_path) == []
    page = c.get("/admin/firmware").data.decode()
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert c.post("/admin/firmware/rollout", data=dict(form, csrf_token=token)).status_code \
        == 302
    assert offers(db_path) == [("n-1", 1, "1.0.1", "offered")]


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_kiosk_health_shows_the_update_and_its_crash_line(client, db_path, lang):
    fleet(db_path)
    admin = login(client, db_path, "ann", "admin")
    admin.post("/admin/firmware/rollout", data={"version": "1.0.1", "target": "kiosk",
                                                "kiosk": "s-1"})
    set_state(db_path, "s-1", "rolled_back", reason="ImportError: no module named 'oops'",
              crash="ImportError: no module named 'oops'")
    got = {k["id"]: k for k in admin.get("/api/v1/kiosk-health").get_json()["kiosks"]}
    assert got["s-1"]["update"] == {"version": "1.0.1", "state": "rolled_back",
                                    "reason": "ImportError: no module named 'oops'",
                                    "crash": "ImportError: no module named 'oops'"}
    assert "update" in got["s-1"]["problems"] and got["n-1"]["update"] is None
    page = admin.get("/kiosks?lang=" + lang).data.decode()
    word = {"en": "update to 1.0.1: rolled back", "nl": "update naar 1.0.1: teruggedraaid"}
    assert word[lang] in page and "no module named &#39;oops&#39;" in page
    fw = admin.get("/admin/firmware?lang=" + lang).data.decode()
    assert 'id="update-s-1"' in fw and "no module named &#39;oops&#39;" in fw
