"""Help offers on the hub: the CLI, the configs they write (only the kiosk's own district's and
the city's, within 4096 bytes, what protocol/v1.py accepts), the district map's GeoJSON import
with its errors, the Skills page's figures and gaps, outcomes, and the maps' colours."""
import json
import re
import subprocess
import time

import pytest

from hub.demo.run import GEOJSON
from hub.geo import boundaries
from hub.offers import offers
from hub.store.connection import open_db, transaction
from hub.web import maps
from hub.web.questions import create_question, push_question
from protocol import v1
from tests.support.hubproc import CIVIC
from tests.support.webdata import add_kiosk, store_taps
from tests.test_web_words import admin  # noqa: F401 - the logged-in admin fixture


def civic(db_path, *args):
    return subprocess.run([CIVIC, *args, "--db", db_path], capture_output=True, text=True,
                          timeout=60)


def configs(db_path):
    db = open_db(db_path)
    try:
        return {k: (rev, v1.decode_config(p)) for k, rev, p in db.execute(
            "SELECT kiosk, rev, payload FROM kiosk_configs")}
    finally:
        db.conn.close()


def test_cli_offers_reach_only_the_kiosks_they_are_for(db_path):
    for kid, d in (("n-1", "north"), ("n-2", "north"), ("s-1", "south")):
        add_kiosk(db_path, kid, d)
    r = civic(db_path, "offer", "add", "--skill", "basics", "--text", "Computer help",
              "--text-nl", "Computerhulp", "--place", "Library North", "--times", "Tue 10-12",
              "--district", "north")
    assert r.returncode == 0, r.stderr
    north = json.loads(r.stdout)
    assert [p["kiosk"] for p in north["pushed"]] == ["n-1", "n-2"]
    r = civic(db_path, "offer", "add", "--skill", "basics", "--text", "Town hall help")
    city = json.loads(r.stdout)
    # The city-wide offer changes only the kiosk without an offer of its own district.
    assert [p["kiosk"] for p in city["pushed"]] == ["s-1"]
    cfg = configs(db_path)
    assert cfg["n-1"][1]["offers"] == {"basics": {
        "en": "Computer help - Library North, Tue 10-12",
        "nl": "Computerhulp - Library North, Tue 10-12"}}
    assert cfg["s-1"][1]["offers"] == {"basics": {"en": "Town hall help"}}
    assert v1.offer_text(cfg["s-1"][1], "basics", "nl") == "Town hall help"
    # A question push keeps the offers; withdrawing the district's offer falls back to the city's.
    db = open_db(db_path)
    with db.conn:
        create_question(db, "q-1", "How are you?", None, "ann")
        push_question(db, "q-1", ["n-1"])
    db.conn.close()
    rev, c = configs(db_path)["n-1"]
    assert rev == 2 and c["question"]["id"] == "q-1" and "basics" in c["offers"]
    r = civic(db_path, "offer", "remove", str(north["id"]))
    assert r.returncode == 0, r.stderr
    rev, c = configs(db_path)["n-1"]
    assert rev == 3 and c["offers"] == {"basics": {"en": "Town hall help"}}
    assert c["question"]["id"] == "q-1"
    # Outcomes and the listing.
    assert civic(db_path, "offer", "attendance", str(city["id"]), "--month", "2026-10",
                 "--people", "14").returncode == 0
    bad = civic(db_path, "offer", "attendance", str(city["id"]), "--month", "2026-13",
                "--people", "1")
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
    listed = json.loads(civic(db_path, "offer", "list").stdout)
    assert [(o["id"], o["people"], o["attendance"]) for o in listed] == [
        (city["id"], 14, {"2026-10": 14})]


@pytest.mark.parametrize("args, message", [
    (["--skill", "knitting", "--text", "x"], "Unknown skill category knitting"),
    (["--skill", "basics", "--text", "x", "--district", "atlantis"], "Unknown district atlantis"),
    (["--skill", "basics", "--text", "x" * 150, "--place", "y" * 70],
     "at most 200 characters per language"),
])
def test_cli_refuses_an_offer_that_cannot_work(db_path, args, message):
    add_kiosk(db_path, "n-1", "north")
    r = civic(db_path, "offer", "add", *args)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert configs(db_path) == {}


def test_the_fullest_config_stays_within_4096_bytes(db_path):
    add_kiosk(db_path, "n-1", "north")
    db = open_db(db_path)
    with db.conn:
        create_question(db, "q-long", "e" * 280, "f" * 280, "ann")
        push_question(db, "q-long", ["n-1"])
        for skill in v1.DEFAULT_SKILLS:  # the longest texts, in 2-byte characters
            offers.add_offer(db, skill, "ü" * 120, "north", "ö" * 120, "p" * 25, "t" * 25,
                             "c" * 23)
    (payload,) = db.execute("SELECT payload FROM kiosk_configs").fetchone()
    assert 3000 < len(payload.encode()) <= v1.MAX_PAYLOAD
    assert len(v1.decode_config(payload.encode())["offers"]) == 4
    # Texts that would not fit (3-byte characters) are refused, naming the kiosk; nothing
    # is written.
    with pytest.raises(ValueError, match="do not fit kiosk n-1's config"):
        with transaction(db.conn):
            offers.add_offer(db, "basics", "語" * 200, "north", "語" * 200)
            offers.add_offer(db, "work", "語" * 200, "north", "語" * 200)
    assert db.execute("SELECT payload FROM kiosk_configs").fetchone()[0] == payload
    db.conn.close()


def feature(name, ring, **props):
    return {"type": "Feature", "properties": dict(name=name, **props),
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


SQUARE = [[4.0, 52.0], [4.1, 52.0], [4.1, 52.1], [4.0, 52.1], [4.0, 52.0]]


@pytest.mark.parametrize("content, message", [
    ("this is not json", "not JSON"),
    ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
    ('{"type": "FeatureCollection", "features": []}', "has no features"),
    (json.dumps({"type": "FeatureCollection", "features": [
        feature("a", SQUARE), {"type": "Feature", "properties": {"nom": "b"},
                               "geometry": {"type": "Polygon", "coordinates": [SQUARE]}}]}),
     "feature 2 has no name in properties.name"),
    (json.dumps({"type": "FeatureCollection", "features": [
        feature("a", [[4.0, 52.0], [4.1, 52.0], ["x", 52.1], [4.0, 52.0]])]}),
     "feature 1 (a), ring 1: a position must be [longitude, latitude]"),
    (json.dumps({"type": "FeatureCollection", "features": [
        feature("a", [[4.0, 52.0], [4.1, 52.0], [4.1, 52.1], [4.0, 52.2]])]}),
     "must end where it starts"),
    (json.dumps({"type": "FeatureCollection", "features": [
        feature("a", [[4.0, 52.0], [400, 52.0], [4.1, 52.1], [4.0, 52.0]])]}),
     "is not a longitude and latitude"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"},
         "geometry": {"type": "Point", "coordinates": [4.0, 52.0]}}]}),
     "geometry type Point is not Polygon or MultiPolygon"),
])
def test_districts_import_names_what_is_wrong(tmp_path, db_path, content, message):
    f = tmp_path / "d.geojson"
    f.write_text(content)
    r = civic(db_path, "districts", "import", str(f))
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert str(f) in r.stderr
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM district_shapes").fetchone()[0] == 0


def test_districts_import_reads_the_demo_city(db_path):
    r = civic(db_path, "districts", "import", GEOJSON)
    assert r.returncode == 0, r.stderr
    assert "imported 4 districts: centre, north, east, west" in r.stdout
    db = open_db(db_path)
    assert dict(db.execute("SELECT name, population FROM districts")) == {
        "centre": 41000, "north": 93000, "east": 67000, "west": 58000}
    assert sorted(boundaries.shapes(db)) == ["centre", "east", "north", "west"]


def city(db_path):
    """Three districts with boundaries and populations; skills presses; two offers."""
    db = open_db(db_path)
    with db.conn:
        rings = {"a": SQUARE, "b": [[x + 0.1, y] for x, y in SQUARE],
                 "c": [[x + 0.2, y] for x, y in SQUARE]}
        boundaries.import_districts(db, json.dumps({"type": "FeatureCollection", "features": [
            feature(n, r, population=p) for (n, r), p in zip(sorted(rings.items()),
                                                              (10000, 20000, 1000))]}))
    db.conn.close()
    now = int(time.time()) - 3600
    taps = {"a": ["basics"] * 30 + ["work"] * 2, "b": ["basics"] * 10 + ["work"] * 40,
            "c": ["basics"] * 5}
    for d, skills in taps.items():
        add_kiosk(db_path, "k-" + d, d)
        store_taps(db_path, "k-" + d, [(i + 1, now, "skill", s, None)
                                       for i, s in enumerate(skills)])
    db = open_db(db_path)
    with db.conn:
        oid, _ = offers.add_offer(db, "work", "Job help", "b")
        offers.record_attendance(db, oid, time.strftime("%Y-%m"), 7)
        offers.record_attendance(db, oid, "2001-01", 99)  # outside the period asked for
        offers.add_offer(db, "safety", "Safe online", None)
    db.conn.close()


def test_skills_view_sets_demand_against_offers_and_flags_the_gaps(admin, db_path):  # noqa: F811
    city(db_path)
    r = admin.get("/api/v1/skills?from=%s" % time.strftime("%Y-%m-01"))
    assert r.status_code == 200
    data = r.json
    rows = {d["district"]: d for d in data["districts"]}
    a, b, c = rows["a"]["skills"], rows["b"]["skills"], rows["c"]["skills"]
    # Per 1,000 residents: a 30 basics / 10,000, b 10 / 20,000, c 5 / 1,000.
    assert (a["basics"]["per_1000"], b["basics"]["per_1000"], c["basics"]["per_1000"]) == \
        (3.0, 0.5, 5.0)
    # basics: no offer anywhere; median 3.0: a and c are gaps, b is below the median.
    assert (a["basics"]["gap"], b["basics"]["gap"], c["basics"]["gap"]) == (True, False, True)
    # work: b has its own offer, with the people who came this month.
    assert b["work"]["offers"] == 1 and b["work"]["covered"] and not b["work"]["gap"]
    assert b["work"]["attendance"] == 7 and a["work"]["attendance"] == 0
    assert a["work"]["gap"] is False or a["work"]["per_1000"] >= 0.2
    # safety: a city-wide offer covers every district.
    assert all(rows[d]["skills"]["safety"]["city_offers"] == 1 for d in rows)
    assert [(g["district"], g["skill"]) for g in data["gaps"]][:2] == [("c", "basics"),
                                                                       ("a", "basics")]
    assert rows["b"]["unmet_presses"] == 10 and rows["b"]["unmet_per_1000"] == 0.5
    assert data["city"]["safety"]["offers"] == 1
    csv = admin.get("/api/v1/skills?format=csv").get_data(as_text=True)
    assert csv.splitlines()[0].startswith("district,population,skill,presses,per_1000")
    assert admin.get("/api/v1/skills?kiosk=k-a").status_code == 400  # not a filter here


def fills(html):
    """{district: fill} of the map's paths and of the table's rows."""
    paths = dict((d, f) for f, d in re.findall(
        r'<path d="[^"]+" fill="(#[0-9a-f]{6})"[^>]*data-district="([^"]+)"', html))
    rows = dict(re.findall(r'<tr[^>]*data-district="([^"]+)" data-fill="(#[0-9a-f]{6})"', html))
    return paths, rows


def test_the_maps_colour_districts_as_their_table_rows(admin, db_path):  # noqa: F811
    city(db_path)
    html = admin.get("/skills").get_data(as_text=True)
    paths, rows = fills(html)
    assert paths == rows and set(paths) == {"a", "b", "c"}
    # c has the most unmet demand per 1,000 (5.0): the darkest class; b the least (0.5).
    assert paths["c"] == maps.BLUES[-1] and paths["b"] == maps.BLUES[0]
    assert "Unmet skills demand per 1,000 residents" in html and "legend-swatch" in html
    html = admin.get("/districts").get_data(as_text=True)
    paths, rows = fills(html)
    assert paths == {d: f for d, f in rows.items() if d} and set(paths) == {"a", "b", "c"}
    assert paths["c"] == maps.BLUES[-1]  # 5 taps of 1,000 residents: the most per 1,000


def test_classes_and_no_data():
    bounds = maps.classes([0, 10, None])
    assert bounds == [2, 4, 6, 8, 10]
    assert [maps.colour(v, bounds) for v in (0, 2, 2.1, 10, None)] == [
        maps.BLUES[0], maps.BLUES[0], maps.BLUES[1], maps.BLUES[4], maps.NO_DATA]
    m = maps.choropleth({"x": [[SQUARE]]}, {"x": None}, "t", no_data="no data")
    assert m.colours["x"] == maps.NO_DATA and m.legend[-1] == (maps.NO_DATA, "no data")
    assert "stroke-dasharray" in m.svg


def test_admin_page_adds_an_offer_records_attendance_and_imports_the_map(admin, db_path):  # noqa: F811
    add_kiosk(db_path, "n-1", "north")
    r = admin.post("/admin/offers", data={"skill": "work", "district": "north",
                                          "text_en": "Job help", "place": "Library"})
    assert r.status_code == 302 and "added=" in r.headers["Location"]
    assert configs(db_path)["n-1"][1]["offers"] == {"work": {"en": "Job help - Library"}}
    oid = json.loads(admin.get("/api/v1/offers").get_data())["offers"][0]["id"]
    r = admin.post("/admin/offers/%d/attendance" % oid, data={"month": "2026-02", "people": "8"})
    assert r.status_code == 302 and "error" not in r.headers["Location"]
    page = admin.get("/admin/offers").get_data(as_text=True)
    assert "Job help" in page and "2026-02: 8" in page
    r = admin.post("/admin/offers", data={"skill": "work", "text_en": ""})
    assert "error=" in r.headers["Location"]
    with open(GEOJSON, "rb") as f:
        r = admin.post("/admin/districts/map", data={"geojson": (f, "d.geojson")},
                       content_type="multipart/form-data")
    assert r.status_code == 302 and "imported=4" in r.headers["Location"]
    import io
    r = admin.post("/admin/districts/map", data={"geojson": (io.BytesIO(b"[1]"), "bad.json")},
                   content_type="multipart/form-data")
    assert "error=" in r.headers["Location"] and "FeatureCollection" in \
        admin.get(r.headers["Location"]).get_data(as_text=True)
    # A kiosk moved to another district gets that district's offers (here: none), and back.
    admin.post("/admin/kiosks/n-1", data={"district": "south"})
    assert "offers" not in configs(db_path)["n-1"][1]
    admin.post("/admin/kiosks/n-1", data={"district": "north"})
    assert configs(db_path)["n-1"][1]["offers"] == {"work": {"en": "Job help - Library"}}
    r = admin.post("/admin/offers/%d/remove" % oid)
    assert r.status_code == 302 and "offers" not in configs(db_path)["n-1"][1]


def test_a_kiosk_provisioned_after_the_offers_gets_them_in_its_first_config(db_path):
    add_kiosk(db_path, "w-1", "west")
    r = civic(db_path, "offer", "add", "--skill", "safety", "--text", "Scam help",
              "--district", "west")
    assert r.returncode == 0, r.stderr
    r = civic(db_path, "kiosk", "provision", "w-9", "--district", "west")
    assert r.returncode == 0, r.stderr
    cfg = configs(db_path)
    assert cfg["w-9"][1]["offers"] == {"safety": {"en": "Scam help"}}
