"""The publication grid and its protection: every public number comes from here.

The grid (docs/OPEN_DATA.md): whole calendar months in the city's time zone, only once they are
over; every district (the same list for every month); the base measures mood.1..mood.4 and
skill.<category>. Each base cell (district, month, measure) is rounded to a multiple of the
threshold k by cell-key rounding: down or up, up with probability (n mod k) / k, the coin being
HMAC-SHA256(the hub's secret cell key, the cell's name), so the same cell always gives the same
number, and the rounding neither adds nor removes on average. Everything else (mood count,
taps, the mood index, the whole city, several months) is computed from the rounded cells.

So every published count is a multiple of k, and so is every sum or difference of published
counts: none can be a count between 1 and k - 1.

Library functions: they take the caller's connection (hub/store/__init__.py) and only read.
"""
import datetime
import hashlib
import hmac
import re

from hub.store.days import day_date, day_number, today
from hub.store.rollups import DISTRICT_SCOPES, city_tz, mood_index
from protocol.v1 import DEFAULT_SKILLS

MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
UNASSIGNED = "unassigned"
MOODS = ("1", "2", "3", "4")
# What each published figure means (shown on /open, in the CSV's catalogue and NGSI-LD).
DEFINITIONS = {
    "taps": "Button presses counted by the kiosks in the district (mood and skills).",
    "mood.count": "Presses of the four mood buttons answering the question shown.",
    "mood.by_value": "Mood presses per button: 1 very unhappy, 2 unhappy, 3 happy, "
                     "4 very happy.",
    "mood.index": "Mean mood mapped linearly from 1..4 to 0..100, from the published "
                  "(rounded) mood counts; null when they are all 0.",
    "skills": "Presses of the skills buttons per digital-skill category.",
    "rounding": "Each count per district, month and button is rounded to a multiple of the "
                "threshold, the same way every time; totals, the whole city and the index "
                "are computed from the rounded counts.",
}


class NotPublished(ValueError):
    """A period that is not in the grid; str() names the ones that are."""


def month_range(period):
    """'YYYY-MM' -> (first day number, last day number)."""
    m = MONTH.match(period or "")
    if not m:
        raise NotPublished("period: %r is not a month (YYYY-MM)" % period)
    y, mo = int(m.group(1)), int(m.group(2))
    first = datetime.date(y, mo, 1)
    nxt = datetime.date(y + (mo == 12), mo % 12 + 1, 1)
    return day_number(first), day_number(nxt) - 1


def _month_of(day):
    return day_date(day).strftime("%Y-%m")


def published_months(db, now=None):
    """Every completed month from the first one with data, oldest first."""
    first = db.execute("SELECT min(day) FROM agg_day WHERE scope = '*'").fetchone()[0]
    if first is None:
        return []
    this_month = day_date(today(city_tz(db), now)).replace(day=1)
    out, d = [], day_date(first).replace(day=1)
    while d < this_month:
        out.append(d.strftime("%Y-%m"))
        d = datetime.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def check_period(db, period, now=None):
    months = published_months(db, now)
    if period not in months:
        span = "%s to %s" % (months[0], months[-1]) if months else "none yet"
        raise NotPublished("period: %r is not published; open data is published for whole "
                           "calendar months once they are over (YYYY-MM: %s)" % (period, span))
    return period


def districts(db):
    """Every district the hub knows, the same list for every month (a district's row never
    appears or disappears with its counts)."""
    names = {r[0] for r in db.execute(
        "SELECT DISTINCT substr(scope, 3) FROM agg_day WHERE " + DISTRICT_SCOPES)}
    names |= {r[0] or "" for r in db.execute("SELECT DISTINCT district FROM kiosks")}
    names |= {r[0] for r in db.execute("SELECT name FROM districts")}
    return sorted(n or UNASSIGNED for n in names)


def skills(db):
    seen = {r[0] for r in db.execute(
        "SELECT DISTINCT value FROM agg_day WHERE scope = '*' AND kind = 'skill'")}
    return list(DEFAULT_SKILLS) + sorted(seen - set(DEFAULT_SKILLS))


def cell_key(db):
    row = db.execute("SELECT value FROM settings WHERE key = 'open_data_key'").fetchone()
    return bytes.fromhex(row[0])


def min_count(db, configured):
    """The threshold: the setting 'open_data_min_count' when set, else the app's config."""
    row = db.execute("SELECT value FROM settings WHERE key = 'open_data_min_count'").fetchone()
    return max(1, int(row[0] if row and row[0] else configured))


def protect(n, k, key, cell):
    """n rounded to a multiple of k, up with probability (n mod k) / k, decided by the cell key."""
    q, r = divmod(n, k)
    if not r:
        return n
    u = int.from_bytes(hmac.new(key, cell.encode(), hashlib.sha256).digest()[:8], "big")
    return (q + (u < r * (1 << 64) // k)) * k


def _raw(db, period):
    first, last = month_range(period)
    out = {}
    for dist, kind, value, n in db.execute(
            "SELECT substr(scope, 3), kind, value, sum(n) FROM agg_day WHERE " + DISTRICT_SCOPES +
            " AND day BETWEEN ? AND ? GROUP BY 1, 2, 3", [first, last]):
        key = (dist or UNASSIGNED, ("mood." if kind == "mood" else "skill.") + str(value))
        out[key] = out.get(key, 0) + n
    return out


def row(name, cells, skill_names):
    """A published row from protected base cells {measure: n}."""
    by_value = {v: cells.get("mood." + v, 0) for v in MOODS}
    sk = {s: cells.get("skill." + s, 0) for s in skill_names}
    count = sum(by_value.values())
    return {"district": name, "taps": count + sum(sk.values()),
            "mood": {"count": count, "index": mood_index(by_value), "by_value": by_value},
            "skills": sk}


def month_table(db, period, k, key, names=None, skill_names=None):
    """The protected table of one published month: its districts and the whole city."""
    names = districts(db) if names is None else names
    skill_names = skills(db) if skill_names is None else skill_names
    measures = ["mood." + v for v in MOODS] + ["skill." + s for s in skill_names]
    raw = _raw(db, period)
    city = dict.fromkeys(measures, 0)
    rows = []
    for d in names:
        cells = {m: protect(raw.get((d, m), 0), k, key, "\x1f".join((d, period, m)))
                 for m in measures}
        for m, n in cells.items():
            city[m] += n
        rows.append(row(d, cells, skill_names))
    first, last = month_range(period)
    return {"period": period, "from": day_date(first).isoformat(),
            "to": day_date(last).isoformat(), "districts": rows,
            "city": row(None, city, skill_names)}


def tables(db, periods, k, key):
    names, skill_names = districts(db), skills(db)
    return [month_table(db, p, k, key, names, skill_names) for p in periods]
