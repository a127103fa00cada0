"""Help offers and their outcomes.

An offer is for one skill category and one district, or the whole city (district None). A
kiosk gets, in its config (protocol/v1.py "offers"), one text per skill of its own config and
per language: its district's newest offer for that skill, else the city's newest. Adding or
removing an offer writes a new config rev for the kiosks whose offers change, the way a
question push does (hub/web/questions.py); hub/ingest/configs.py publishes it.

Library functions take the caller's connection; the ones that write join the caller's
transaction (call them inside `with db.conn:` or connection.transaction()).
"""
import json
import re
import time

import protocol


def _(text, **kw):
    """A message in the staff member's language (English outside a request). Imported when a
    message is made, so loading this module does not load the web side."""
    from hub.web.i18n import _ as translated
    return translated(text, **kw)

LANGS = ("en", "nl")   # the languages an offer's text is kept in
MAX_FIELD = 80         # place, times, contact
MONTH = re.compile(r"^(19|20)\d\d-(0[1-9]|1[0-2])$")


def known_skills(db):
    """The skill categories kiosks may press: the default set and any a config names."""
    extra = [r[0] for r in db.execute("SELECT skill FROM config_skills ORDER BY skill")]
    return list(protocol.DEFAULT_SKILLS) + [s for s in extra if s not in protocol.DEFAULT_SKILLS]


def kiosk_text(offer, lang):
    """What a kiosk shows for an offer in lang: its text, then place, times and contact."""
    text = offer.get("text_" + lang)
    if not text:
        return None
    rest = ", ".join(offer[k] for k in ("place", "times", "contact") if offer.get(k))
    return text + " - " + rest if rest else text


def _clean(v, limit, what):
    if v is not None and not isinstance(v, str):
        raise ValueError(_("%(what)s must be text.", what=what))
    v = " ".join((v or "").split())  # one line: the kiosk's display and the sim's `help` line
    if len(v) > limit:
        raise ValueError(_("%(what)s: at most %(n)s characters.", what=what, n=limit))
    return v or None


def add_offer(db, skill, text_en, district=None, text_nl=None, place=None, times=None,
              contact=None, user=None):
    """Record an offer and write the configs of the kiosks it changes. -> (offer id,
    [(kiosk, rev)]). ValueError with a message a person can act on when refused."""
    if not isinstance(skill, str) or skill not in known_skills(db):
        raise ValueError(_("Unknown skill category %(skill)s; one of: %(known)s.",
                           skill=skill, known=", ".join(known_skills(db))))
    district = _clean(district, 64, _("District"))
    row = {"skill": skill, "district": district,
           "place": _clean(place, MAX_FIELD, _("Place")),
           "times": _clean(times, MAX_FIELD, _("Times")),
           "contact": _clean(contact, MAX_FIELD, _("Contact")),
           "text_en": _clean(text_en, protocol.MAX_OFFER_TEXT, _("Text")),
           "text_nl": _clean(text_nl, protocol.MAX_OFFER_TEXT, _("Dutch text"))}
    if not row["text_en"] and not row["text_nl"]:
        raise ValueError(_("An offer needs a text, in English or Dutch."))
    for lang in LANGS:
        shown = kiosk_text(row, lang)
        if shown and len(shown) > protocol.MAX_OFFER_TEXT:
            raise ValueError(_("Text, place, times and contact together: at most %(n)s "
                               "characters per language (now %(m)s).",
                               n=protocol.MAX_OFFER_TEXT, m=len(shown)))
    if district and not db.execute(
            "SELECT 1 FROM districts WHERE name = ? UNION SELECT 1 FROM kiosks "
            "WHERE district = ?", [district, district]).fetchone():
        raise ValueError(_("Unknown district %(name)s.", name=district))
    cur = db.execute(
        "INSERT INTO offers (skill, district, place, times, contact, text_en, text_nl, created, "
        "created_by) VALUES (:skill, :district, :place, :times, :contact, :text_en, :text_nl, "
        ":created, :user)", dict(row, created=int(time.time()), user=user))
    return cur.lastrowid, refresh_configs(db, district)


def remove_offer(db, offer_id):
    """Withdraw an offer (its outcomes stay). -> [(kiosk, rev)] of the configs written."""
    row = db.execute("SELECT district FROM offers WHERE id = ? AND removed IS NULL",
                     [offer_id]).fetchone()
    if not row:
        raise ValueError(_("No such offer."))
    db.execute("UPDATE offers SET removed = ? WHERE id = ?", [int(time.time()), offer_id])
    return refresh_configs(db, row[0])


def list_offers(db, include_removed=False):
    """Every offer, newest first, with its outcomes: {"month": people} and the total."""
    sql = ("SELECT id, skill, district, place, times, contact, text_en, text_nl, created, "
           "created_by, removed FROM offers")
    if not include_removed:
        sql += " WHERE removed IS NULL"
    cols = ("id", "skill", "district", "place", "times", "contact", "text_en", "text_nl",
            "created", "created_by", "removed")
    out = [dict(zip(cols, r)) for r in db.execute(sql + " ORDER BY id DESC")]
    came = {}
    for offer, month, people in db.execute(
            "SELECT offer, month, people FROM offer_attendance ORDER BY month"):
        came.setdefault(offer, {})[month] = people
    for o in out:
        o["attendance"] = came.get(o["id"], {})
        o["people"] = sum(o["attendance"].values())
    return out


def record_attendance(db, offer_id, month, people):
    """How many people came to an offer in a month (YYYY-MM); a second record replaces it."""
    if not db.execute("SELECT 1 FROM offers WHERE id = ?", [offer_id]).fetchone():
        raise ValueError(_("No such offer."))
    if not isinstance(month, str) or not MONTH.match(month):
        raise ValueError(_("Month: YYYY-MM, e.g. 2026-03."))
    if isinstance(people, str):
        people = int(people) if people.strip().isdigit() else None
    if not isinstance(people, int) or isinstance(people, bool) or not 0 <= people <= 10 ** 6:
        raise ValueError(_("People: a whole number from 0."))
    db.execute("INSERT INTO offer_attendance (offer, month, people, recorded) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (offer, month) DO UPDATE SET people = excluded.people, "
               "recorded = excluded.recorded", [offer_id, month, people, int(time.time())])


def offers_for(db, district, skills):
    """{skill: {lang: text}} a kiosk of district with these skills shows: per skill the
    district's newest offer, else the city's newest."""
    out = {}
    for skill in skills:
        row = db.execute(
            "SELECT place, times, contact, text_en, text_nl FROM offers WHERE skill = ? AND "
            "removed IS NULL AND (district = ? OR district IS NULL) "
            "ORDER BY district IS NULL, id DESC LIMIT 1", [skill, district]).fetchone()
        if row:
            offer = dict(zip(("place", "times", "contact", "text_en", "text_nl"), row))
            texts = {lang: kiosk_text(offer, lang) for lang in LANGS}
            out[skill] = {k: v for k, v in texts.items() if v}
    return out


def refresh_configs(db, district=None):
    """Write the next config of every kiosk whose offers changed: the kiosks of district, or
    all kiosks when district is None (a city-wide offer). -> [(kiosk, rev)]."""
    sql = ("SELECT k.id, k.district, c.rev, c.payload, k.config_rev FROM kiosks k "
           "LEFT JOIN kiosk_configs c ON c.kiosk = k.id")
    args = []
    if district is not None:
        sql += " WHERE k.district = ?"
        args.append(district)
    now, out = int(time.time()), []
    for kiosk, kdistrict, rev, payload, have in db.execute(sql + " ORDER BY k.id", args).fetchall():
        cfg = json.loads(payload) if payload else dict(protocol.DEFAULT_CONFIG)
        offers = offers_for(db, kdistrict, cfg.get("skills") or protocol.DEFAULT_SKILLS)
        if offers == (cfg.get("offers") or {}):
            continue
        cfg["offers"] = offers
        if not offers:
            del cfg["offers"]
        cfg["rev"] = max(rev or 0, have or 0) + 1
        # Stored and published as UTF-8 (not \u escapes: an "é" is 2 bytes, not 6), and
        # checked as the kiosk will check it, within protocol.MAX_PAYLOAD.
        payload = json.dumps(cfg, ensure_ascii=False)
        try:
            protocol.decode_config(payload.encode())
        except protocol.ProtocolError as e:
            raise ValueError(_("The offers do not fit kiosk %(kiosk)s's config (%(why)s); "
                               "shorten their texts.", kiosk=kiosk, why=str(e)))
        db.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                   "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (kiosk) DO UPDATE SET "
                   "rev = excluded.rev, payload = excluded.payload, updated = excluded.updated, "
                   "published = NULL", [kiosk, cfg["rev"], payload, now])
        out.append((kiosk, cfg["rev"]))
    return out
