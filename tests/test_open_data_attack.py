"""The attack a curious analyst would try on the open data (issue 13), run against the real app.

A data set with small cells (single days, a small district, a kiosk without a district, one rare
answer) is stored; then every public endpoint (JSON, CSV, the Open data page, NGSI-LD) is asked
with every parameter value it accepts: every from/to pair (boundaries on the days that hold
data; other days hold nothing, so other boundaries give the same answers) and every period
that it lists, plus "all". Every published number becomes a linear equation over the true
counts per (district, day, answer); mood indices with exact counts become equations too.
Exact linear algebra (tests/support/attack.py) then computes every count the equations pin
down: each cell, every sum over days, districts and answers, and every difference of two such
sums (nested or adjacent periods, totals minus parts). The test fails if any of them is a true
count between 1 and the threshold - 1.
"""
import csv
import datetime
import html.parser
import io
import random
import re
import time
import zoneinfo

import pytest

from tests.support.attack import System, index_sum
from tests.support.webdata import add_kiosk, store_taps

K = 5
MOODS = ["mood:%d" % v for v in (1, 2, 3, 4)]
SKILLS = ["skill:" + s for s in ("basics", "eservices", "safety", "work")]
MEASURES = MOODS + SKILLS
PUBLIC = ("/api/v1/open/summary", "/api/v1/open/summary.csv", "/open", "/api/v1/open/ngsi-ld")


def _months_back(first, n):
    y, m = first.year, first.month - n
    while m < 1:
        y, m = y - 1, m + 12
    return datetime.date(y, m, 1)


class World:
    """The stored data set and its truth: counts per (district, day, measure)."""

    def __init__(self, db_path):
        tz = zoneinfo.ZoneInfo("Europe/Amsterdam")
        now = time.time()
        self.today = datetime.datetime.fromtimestamp(now, tz).date()
        first = self.today.replace(day=1)
        months = [_months_back(first, n) for n in (3, 2, 1)]
        self.days = [m.replace(day=d) for m in months for d in (10, 20)] + [self.today]
        self.districts = ["big", "mid", "small", "unassigned"]
        kiosks = {"big": ["big-1", "big-2"], "mid": ["mid-1"], "small": ["small-1"],
                  "unassigned": ["lone-1"]}
        for d, ks in kiosks.items():
            for k in ks:
                add_kiosk(db_path, k, None if d == "unassigned" else d)
        rnd = random.Random(13)
        self.truth = {}
        for di, d in enumerate(self.days):
            for dist in self.districts:
                for m in MEASURES:
                    n = {"big": rnd.randint(6, 30), "mid": rnd.randint(0, 9),
                         "small": rnd.randint(0, 3), "unassigned": rnd.randint(0, 2)}[dist]
                    if dist == "mid" and m == "mood:1":   # the one rare answer
                        n = 1 if di == 2 else 0
                    self.truth[(dist, d, m)] = n
        seqs = {}
        for (dist, d, m), n in sorted(self.truth.items()):
            ts = now - 60 if d == self.today else int(datetime.datetime(
                d.year, d.month, d.day, 12, tzinfo=datetime.timezone.utc).timestamp())
            kind, value = m.split(":")
            taps = []
            for i in range(n):
                k = kiosks[dist][i % len(kiosks[dist])]
                seqs[k] = seqs.get(k, 0) + 1
                taps.append((k, (seqs[k], int(ts), "mood" if kind == "mood" else "skill",
                                 int(value) if kind == "mood" else value, None)))
            for k in kiosks[dist]:
                mine = [t for kk, t in taps if kk == k]
                if mine:
                    store_taps(db_path, k, mine)
        self.index = {key: i for i, key in enumerate(sorted(self.truth))}

    def days_in(self, frm, to):
        frm = datetime.date.fromisoformat(frm) if frm else datetime.date.min
        to = datetime.date.fromisoformat(to) if to else datetime.date.max
        return [d for d in self.days if frm <= d <= to]

    def coefs(self, area, frm, to, weights):
        dists = self.districts if area == "*" else [area]
        return {self.index[(a, d, m)]: w for a in dists for d in self.days_in(frm, to)
                for m, w in weights.items() if (a, d, m) in self.index}

    def true_value(self, coefs):
        keys = sorted(self.truth)
        return sum(self.truth[keys[i]] * w for i, w in coefs.items())


class Analyst:
    def __init__(self, world):
        self.w = world
        self.system = System()
        self.facts = 0
        self.answers = 0

    def fact(self, area, frm, to, weights, value):
        if value in (None, ""):
            return
        coefs = self.w.coefs(area, frm, to, weights)
        self.facts += 1
        self.system.add(coefs, int(round(float(value))))

    def row(self, area, frm, to, taps, count, index, by_value, skills):
        self.fact(area, frm, to, {m: 1 for m in MEASURES}, taps)
        self.fact(area, frm, to, {m: 1 for m in MOODS}, count)
        for v, n in (by_value or {}).items():
            self.fact(area, frm, to, {"mood:%s" % v: 1}, n)
        for s, n in (skills or {}).items():
            if "skill:" + s in SKILLS:
                self.fact(area, frm, to, {"skill:" + s: 1}, n)
        if index not in (None, "") and count not in (None, ""):
            s = index_sum(float(index), int(count))
            if s is not None:
                self.fact(area, frm, to, {"mood:%d" % v: v for v in (1, 2, 3, 4)}, s)

    # --- one parser per public format -------------------------------------------------------
    def summary_json(self, j, frm, to):
        frm, to = j.get("from", frm), j.get("to", to)
        for d in j.get("districts", []):
            self.row(d["district"], frm, to, d["taps"], d["mood"]["count"], d["mood"]["index"],
                     d["mood"]["by_value"], d["skills"])
        if j.get("city"):
            c = j["city"]
            self.row("*", frm, to, c["taps"], c["mood"]["count"], c["mood"]["index"],
                     c["mood"]["by_value"], c["skills"])

    def summary_csv(self, text, frm, to):
        lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
        for r in csv.DictReader(io.StringIO("\n".join(lines))):
            area = "*" if r.get("area") == "city" else r["district"]
            f, t = r.get("from", frm), r.get("to", to)
            self.row(area, f, t, r["taps"], r["mood_count"], r["mood_index"],
                     {v: r["mood_%s" % v] for v in "1234"},
                     {k[6:]: v for k, v in r.items() if k.startswith("skill_")})

    def page(self, text, frm, to):
        p = _Table()
        p.feed(text)
        period = re.search(r'data-from="([^"]*)" data-to="([^"]*)"', text)
        if period:
            frm, to = period.group(1), period.group(2)
        for cells in p.rows:
            if len(cells) >= 4 and cells[0] and cells[0] != "District":
                area = "*" if cells[0] in ("Whole city", "city") else cells[0]
                num = lambda v: None if v in ("–", "") else v  # noqa: E731
                self.row(area, frm, to, num(cells[1]), num(cells[2]), num(cells[3]), {}, {})

    def ngsi(self, entities):
        for e in entities:
            if e.get("type") != "KeyPerformanceIndicator":
                continue
            measure = e["name"]["value"]
            per = e["calculationPeriod"]["value"]
            area = "*" if ":city:" in e["id"] else e["areaServed"]["value"]
            val = e["kpiValue"]["value"]
            frm, to = per["from"][:10], per["to"][:10]
            if measure == "taps":
                self.fact(area, frm, to, {m: 1 for m in MEASURES}, val)
            elif measure == "mood.count":
                self.fact(area, frm, to, {m: 1 for m in MOODS}, val)
            elif measure.startswith("mood.by_value."):
                self.fact(area, frm, to, {"mood:" + measure[-1]: 1}, val)
            elif measure.startswith("skills.") and "skill:" + measure[7:] in SKILLS:
                self.fact(area, frm, to, {"skill:" + measure[7:]: 1}, val)
        # the index, with the count of the same area and period
        by = {}
        for e in entities:
            if e.get("type") == "KeyPerformanceIndicator":
                by[(e["id"].rsplit(":", 1)[0], e["name"]["value"])] = e
        for (base, measure), e in by.items():
            c = by.get((base, "mood.count"))
            if measure == "mood.index" and c:
                per = e["calculationPeriod"]["value"]
                area = "*" if ":city:" in e["id"] else e["areaServed"]["value"]
                self.row(area, per["from"][:10], per["to"][:10], None,
                         c["kpiValue"]["value"], e["kpiValue"]["value"], {}, {})

    def ask(self, client, url, params, frm, to):
        r = client.get(url, query_string=params)
        if r.status_code != 200:
            assert r.status_code in (400, 404), (url, params, r.status_code)
            return
        self.answers += 1
        if url.endswith(".csv"):
            self.summary_csv(r.data.decode(), frm, to)
        elif url == "/open":
            self.page(r.data.decode(), frm, to)
        elif url.endswith("ngsi-ld"):
            self.ngsi(r.get_json())
        else:
            self.summary_json(r.get_json(), frm, to)


class _Table(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def targets(world):
    """Every sum an analyst could want: (district or all) x (an answer, the mood answers, the
    skills, all taps) x (every run of consecutive data days)."""
    sets = [(m, {m: 1}) for m in MEASURES] + [
        ("mood", {m: 1 for m in MOODS}), ("skills", {m: 1 for m in SKILLS}),
        ("taps", {m: 1 for m in MEASURES})]
    out = []
    days = [d.isoformat() for d in world.days]
    for area in world.districts + ["*"]:
        for name, weights in sets:
            for i in range(len(days)):
                for j in range(i, len(days)):
                    c = world.coefs(area, days[i], days[j], weights)
                    if c:
                        out.append(("%s %s..%s %s" % (area, days[i], days[j], name), c))
    return out


def recovered_small_counts(world, analyst, k):
    found = []
    det = []
    for label, c in targets(world):
        v = analyst.system.value_of(c)
        if v is None:
            continue
        t = world.true_value(c)
        mask = sum(1 << i for i in c)
        det.append((mask, v, t, label))
        if v == t and 1 <= t < k:
            found.append("%s = %d" % (label, t))
    for m1, v1, t1, l1 in det:          # differences of nested sums: periods, districts, answers
        for m2, v2, t2, l2 in det:
            if m1 != m2 and m2 & ~m1 == 0 and v1 - v2 == t1 - t2 and 1 <= t1 - t2 < k:
                found.append("(%s) - (%s) = %d" % (l1, l2, t1 - t2))
    return found, det


def run_attack(client, world):
    a = Analyst(world)
    bounds = [None] + [d.isoformat() for d in world.days]
    for frm in bounds:
        for to in bounds:
            if frm and to and frm > to:
                continue
            params = {k: v for k, v in (("from", frm), ("to", to)) if v}
            for url in PUBLIC:
                a.ask(client, url, params, frm, to)
    listed = client.get("/api/v1/open/summary").get_json().get("periods") or []
    for p in list(listed) + ["all"]:
        for url in PUBLIC:
            a.ask(client, url, {"period": p}, None, None)
    return a


@pytest.mark.timeout(300)
def test_no_public_answer_combination_reveals_a_small_count(app, client, db_path):
    app.config["OPEN_DATA_MIN_COUNT"] = K
    world = World(db_path)
    analyst = run_attack(client, world)
    assert analyst.answers > 0 and analyst.facts > 50, "the attack got nothing to work on"
    found, det = recovered_small_counts(world, analyst, K)
    assert not found, "%d small counts recovered, e.g. %s" % (len(found), found[:5])
    # Not vacuous: the published figures do pin down large sums (monthly district totals).
    assert any(t >= K for _m, _v, t, _l in det)


def test_the_analyst_finds_what_a_naive_publication_gives_away():
    """The solver itself: the issue's three attacks on hand-made equations are all found."""
    s = System()
    # taps on days 1..29 and 1..28 -> day 29 alone
    s.add({i: 1 for i in range(29)}, 196)
    s.add({i: 1 for i in range(28)}, 195)
    assert s.value_of({28: 1}) == 1
    # a count and an index with two hidden answers: n1 + n2 = 6 and n1 + 2*n2 = 6 + 5
    s2 = System()
    s2.add({0: 1, 1: 1, 2: 1, 3: 1}, 42)
    s2.add({2: 1}, 14)
    s2.add({3: 1}, 22)
    weighted = index_sum(78.6, 42)
    assert weighted is not None
    s2.add({0: 1, 1: 2, 2: 3, 3: 4}, weighted)
    assert (s2.value_of({0: 1}), s2.value_of({1: 1})) == (1, 5)
    assert s2.value_of({0: 1, 1: 1}) == 6 and s.value_of({0: 1}) is None
