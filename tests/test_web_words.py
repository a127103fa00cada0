"""Words, not ids, on every page: a Dutch page carries no English left untranslated, no field
name and no 'null'/'None'; numbers follow the language; the language switch keeps the filters."""
import html.parser
import re

import pytest

from hub.web.auth import add_user
from tests.test_web_pages import city

PAGES = ("/overview", "/districts", "/skills", "/kiosks", "/heatmap", "/questions", "/alerts", "/admin/",
         "/admin/kiosks", "/admin/districts", "/admin/users", "/admin/tokens", "/admin/audit",
         "/admin/offers", "/admin/firmware", "/account/password", "/open")
# Words that are English and not Dutch: one of them in a Dutch page's text is a string that
# was never translated.
ENGLISH = {"the", "and", "with", "from", "this", "that", "for", "are", "not", "all",
           "taps", "day", "month", "page", "questions", "districts", "alerts", "which",
           "when", "what", "none", "shows", "answer", "answers", "happy", "unhappy"}
FIELDS = re.compile(r"\b(null|None|by_value|mood\.\w+|skills\.\w+|eservices|per_1000|"
                    r"config_rev|last_seen)\b")


class Text(html.parser.HTMLParser):
    """The text a person reads: text nodes outside script/style, and alt/title/aria-label.
    <code> is left out: there a page names a data field on purpose (the open-data page's
    column definitions)."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self.skip += 1
        for k, v in attrs:
            if k in ("aria-label", "title", "alt", "placeholder") and v:
                self.parts.append(v)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def text_of(page):
    t = Text()
    t.feed(page)
    return t.parts


@pytest.fixture
def admin(client, db_path):
    add_user(db_path, "ann", "password1", "admin")
    assert client.post("/login", data={"name": "ann", "password": "password1"}).status_code \
        == 302
    return client


def test_a_dutch_page_has_no_english_word_left_and_no_field_name(admin, db_path):
    city(db_path)
    own = {"ann", "Amsterdam", "Europe"}   # names in the data, the same in any language
    found = {}
    for path in PAGES:
        r = admin.get(path + "?lang=nl")
        assert r.status_code == 200, path
        for part in text_of(r.get_data(as_text=True)):
            words = {w.lower() for w in re.findall(r"[A-Za-z]+", part)} - {o.lower() for o in own}
            if words & ENGLISH or FIELDS.search(part):
                found.setdefault(path, []).append(part)
    assert not found, found


def test_the_check_above_can_fail(admin, db_path):
    """It must catch an English sentence: the English page has plenty."""
    city(db_path)
    parts = text_of(admin.get("/overview?lang=en").get_data(as_text=True))
    assert any({w.lower() for w in re.findall(r"[A-Za-z]+", p)} & ENGLISH for p in parts)


def test_numbers_follow_the_language(admin, db_path):
    from tests.support.webdata import add_kiosk, store_taps
    add_kiosk(db_path, "big-1", "north")
    store_taps(db_path, "big-1", [(i, 1795393090, "mood", 4, None) for i in range(1, 1235)])
    en = admin.get("/overview?lang=en").get_data(as_text=True)
    nl = admin.get("/overview?lang=nl").get_data(as_text=True)
    assert 'id="taps-total">1,234<' in en and 'id="taps-total">1.234<' in nl


def test_the_language_switch_keeps_the_filters(admin, db_path):
    city(db_path)
    page = admin.get("/overview?district=north&from=2026-01-01").get_data(as_text=True)
    link = re.search(r'href="\?([^"]*lang=nl[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "district=north" in link and "from=2026-01-01" in link
