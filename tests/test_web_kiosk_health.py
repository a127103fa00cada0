"""Kiosk health for a city: problems first, natural order, filters, search, pages, old values
marked, and the export of everything that matches."""
import time

from tests.support.webdata import add_kiosk
from tests.test_web_words import admin  # noqa: F401 - the logged-in admin fixture

NOW = int(time.time())


def test_problems_first_then_natural_order_filtered_searched_and_paged(admin, db_path):  # noqa: F811
    for i in range(1, 121):
        add_kiosk(db_path, "haven-%d" % i, "haven" if i % 2 else "noord", fw="1.0.0", queue=0)
    add_kiosk(db_path, "haven-200", "haven", online=False, last_seen=NOW - 7200, queue=13,
              fw="1.0.0")
    add_kiosk(db_path, "haven-300", "haven", queue=500, fw="0.9.0")
    h = admin.get("/api/v1/kiosk-health").json
    assert h["total"] == 122 and h["pages"] == 3 and len(h["kiosks"]) == 50
    ids = [k["id"] for k in h["kiosks"]]
    assert ids[:2] == ["haven-200", "haven-300"]          # problems first, offline first
    assert ids[2:6] == ["haven-1", "haven-2", "haven-3", "haven-4"]   # natural, not haven-10
    bad = {k["id"]: k for k in h["kiosks"][:2]}
    assert bad["haven-200"]["problems"] == ["offline"] and bad["haven-200"]["stale"]
    assert bad["haven-300"]["problems"] == ["queue", "firmware"]
    assert h["counts"] == {"problem": 2, "offline": 1, "online": 121, "all": 122}
    last = admin.get("/api/v1/kiosk-health?page=3").json
    assert [k["id"] for k in last["kiosks"]][-1] == "haven-120" and len(last["kiosks"]) == 22
    n = admin.get("/api/v1/kiosk-health?district=noord&state=online&q=haven-1").json
    assert {k["id"] for k in n["kiosks"]} == {"haven-%d" % i for i in range(1, 121)
                                             if i % 2 == 0 and "haven-1" in "haven-%d" % i}
    assert [k["id"] for k in admin.get("/api/v1/kiosk-health?state=problem").json["kiosks"]] \
        == ["haven-200", "haven-300"]
    assert admin.get("/api/v1/kiosk-health?state=nope").status_code == 400
    assert admin.get("/api/v1/kiosk-health?page=0").status_code == 400


def test_the_page_marks_old_values_and_pages_keep_the_filters(admin, db_path):  # noqa: F811
    for i in range(1, 61):
        add_kiosk(db_path, "k-%d" % i, "west")
    add_kiosk(db_path, "gone-1", "west", online=False, last_seen=NOW - 3600, queue=7)
    page = admin.get("/kiosks?district=west").get_data(as_text=True)
    assert page.index("gone-1") < page.index("k-1<")
    assert "(as of last status)" in page
    assert 'href="?district=west&amp;page=2"' in page


def test_export_gives_every_matching_kiosk_as_csv(admin, db_path):  # noqa: F811
    for i in range(1, 81):
        add_kiosk(db_path, "k-%d" % i, "west")
    r = admin.get("/api/v1/kiosk-health?format=csv&district=west")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).strip().split("\n")
    assert len(lines) == 81 and lines[0].startswith("id,online,")
    assert admin.get("/api/v1/kiosk-health?format=xml").status_code == 400
