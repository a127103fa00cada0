"""Every UI string is translatable, and Dutch is complete: each _("...") in the templates and
the web modules has an entry in hub/web/translations/nl.json, and placeholders match."""
import glob
import json
import os
import re

from hub.web.auth import add_user
from hub.web.formatting import PROBLEMS, SKILLS
from hub.web.opendata import DEFINITIONS
from tests.support.procs import ROOT

CALL = re.compile(r'''_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+|'(?:[^'\\]|\\.)*')''')
# Every template and every module of the web side (a new page module is checked by itself),
# but the catalogue's own module, whose docstring shows the call.
SOURCES = glob.glob(os.path.join(ROOT, "hub", "web", "templates", "*.html")) + [
    p for p in glob.glob(os.path.join(ROOT, "hub", "web", "*.py"))
    if not p.endswith("i18n.py")]


def ui_strings():
    found = set()
    for path in SOURCES:
        for m in CALL.finditer(open(path, encoding="utf-8").read()):
            lit = m.group(1)
            found.add("".join(eval(p) for p in re.findall(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'',
                                                         lit)))
    # Keys built at run time: trend buckets, skill categories, alert kinds, definitions.
    found |= {"per day", "per week", "per month", "basics", "eservices", "safety", "work",
              "offline", "mood-drop", "viewer", "admin"} | set(DEFINITIONS.values()) | \
        set(PROBLEMS.values()) | {t for pair in SKILLS.values() for t in pair}
    return found


def test_dutch_catalogue_is_complete():
    nl = json.load(open(os.path.join(ROOT, "hub", "web", "translations", "nl.json"),
                        encoding="utf-8"))
    strings = ui_strings()
    assert len(strings) > 100
    missing = sorted(s for s in strings if s not in nl)
    assert not missing, missing
    for en, tr in nl.items():
        assert re.findall(r"%\(\w+\)s", en) == re.findall(r"%\(\w+\)s", tr) or \
            sorted(re.findall(r"%\(\w+\)s", en)) == sorted(re.findall(r"%\(\w+\)s", tr)), en


def test_language_switch_and_accept_language(client, db_path):
    add_user(db_path, "ann", "password1", "admin")
    client.post("/login", data={"name": "ann", "password": "password1"})
    page = client.get("/overview?lang=nl").data.decode()
    assert "<h1>Overzicht</h1>" in page and 'lang="nl"' in page
    assert "<h1>Overzicht</h1>" in client.get("/overview").data.decode()  # remembered
    page = client.get("/overview?lang=en").data.decode()
    assert "<h1>Overview</h1>" in page
    other = client.application.test_client()
    assert "Aanmelden" in other.get("/login", headers={"Accept-Language": "nl-NL,nl;q=0.9"}).data.decode()


def test_error_pages_are_translated(client, db_path):
    add_user(db_path, "vic", "password1", "viewer")
    client.post("/login", data={"name": "vic", "password": "password1"})
    r = client.get("/admin/kiosks?lang=nl")
    assert r.status_code == 403 and "Uw account mag dit niet" in r.data.decode()
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "Deze pagina bestaat niet" in r.data.decode()
    assert client.get("/api/v1/no-such").json["error"]
