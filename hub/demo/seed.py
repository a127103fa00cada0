"""`civic seed`: a realistic city's worth of taps for dashboards and benchmarks.

Default: 10 million taps from 500 kiosks in 12 districts over the two years up to now.
Everything goes through the hub's one insert path, hub/store/taps.py (one transaction per
simulated day: taps, rollups, seq gaps, last_seen), and kiosk status through
hub/store/registry.py, exactly as
MQTT would deliver it, so the seeded database is what years of real running would leave.

The data has shape, so the pages show something: opening hours and weekdays, districts that
take part more or less, mood that differs per district and drifts, a question per month,
skills interest that differs per district. Deterministic for a given --seed.
"""
import math
import random
import time

from hub.store import registry, rollups
from hub.store.connection import open_db
from hub.store.days import day_date, day_start_ts, today
from hub.store.taps import store

DISTRICTS = [("Centrum", 86000), ("Noord", 94000), ("Oost", 128000), ("Zuid", 144000),
             ("West", 142000), ("Nieuw-West", 160000), ("Zuidoost", 89000), ("Haven", 21000),
             ("Westpoort", 9000), ("Buitenveldert", 42000), ("IJburg", 45000),
             ("Weesp", 21000)]
SKILLS = ("basics", "eservices", "safety", "work")
# Share of a day's taps per local hour (libraries, town halls: open 8-21, busiest midday)
HOURS = [0, 0, 0, 0, 0, 0, 0, 1, 4, 7, 9, 10, 11, 10, 9, 9, 8, 7, 6, 4, 3, 2, 0, 0]
WEEKDAYS = [1.0, 1.05, 1.1, 1.05, 1.0, 0.8, 0.35]
BATCH_DAYS = 7  # days of taps per store() transaction


def _status(kid, rng, now):
    online = rng.random() > 0.04
    return {"online": online, "fw": rng.choice(["1.0.0", "1.0.1", "1.1.0"]),
            "boot": rng.randint(1, 40), "uptime": rng.randint(60, 3_000_000),
            "queue": 0 if online else rng.randint(0, 300), "mem_free": rng.randint(90_000, 130_000),
            "rssi": rng.randint(-85, -45), "config_rev": 24, "filtered": rng.randint(0, 400),
            "ts": now - (0 if online else rng.randint(60, 7200))}


def setup_kiosks(db, n_kiosks, rng, now, districts=None, names=None):
    """Districts with populations, kiosks with places (admin's columns) and a status (through
    the ingest's registry code). Returns [(kiosk, district index, weight)]. names: the kiosks'
    ids (default: '<district>-<n>'), the i-th in districts[i % len(districts)]."""
    districts = districts or DISTRICTS
    kiosks = []
    with db.conn:
        for name, pop in districts:
            db.execute("INSERT OR REPLACE INTO districts (name, population) VALUES (?, ?)",
                       [name, pop])
        for i in range(n_kiosks):
            d = i % len(districts)
            kid = names[i] if names else "%s-%d" % (districts[d][0].lower(),
                                                    i // len(districts) + 1)
            db.execute("INSERT INTO kiosks (id, district, place, lat, lon) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET district = excluded.district, "
                       "place = excluded.place, lat = excluded.lat, lon = excluded.lon",
                       [kid, districts[d][0], "Place %d" % (i + 1),
                        52.30 + rng.random() * 0.15, 4.75 + rng.random() * 0.25])
            registry.apply_status(db.conn, kid, _status(kid, rng, now), now)
            # Some districts take part much less (the digital divide the dashboard shows).
            weight = rng.lognormvariate(0, 0.5) * (0.35 if d in (6, 8, 11) else 1.0)
            kiosks.append((kid, d, weight))
    return kiosks


def questions(db, first_day, last_day, now):
    """One question per month, as staff would have created them; -> {day: question id}."""
    out, d = {}, first_day
    with db.conn:
        while d <= last_day:
            dt = day_date(d)
            qid = "q-%04d-%02d" % (dt.year, dt.month)
            db.execute("INSERT OR IGNORE INTO questions (id, text_en, text_nl, created, "
                       "created_by) VALUES (?, ?, ?, ?, 'seed')",
                       [qid, "How do you feel about the city's services (%s)?" % qid[2:],
                        "Hoe tevreden bent u over de dienstverlening (%s)?" % qid[2:], now])
            out[d] = qid
            d += 1
    return out


def run_seed(db_path, taps=10_000_000, kiosks=500, days=730, seed=1, progress=print,
             districts=None, names=None, question=None):
    """Seed db_path (which must have no taps yet). Returns a dict of what was done.
    districts [(name, population)] and names (kiosk ids) replace the default city (the demo
    seeds its own four districts); question: one question id for every mood tap instead of a
    new question per month."""
    districts = districts or DISTRICTS
    t0 = time.time()
    rng = random.Random(seed)
    db = open_db(db_path)
    if db.execute("SELECT 1 FROM taps LIMIT 1").fetchone():
        raise ValueError("%s already has taps: seed a new database file" % db_path)
    # A bulk load into a new file: if it is cut off, the answer is to seed again, so it need
    # not wait for the disk at every commit (the hub's own connections keep their settings).
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-200000")
    now = int(time.time())
    tz = rollups.city_tz(db)
    last_day = today(tz, now)
    first_day = last_day - days + 1
    ks = setup_kiosks(db, kiosks, rng, now, districts, names)
    qs = questions(db, first_day, last_day, now) if question is None else \
        {d: question for d in range(first_day, last_day + 1)}
    total_w = sum(w for _k, _d, w in ks) * sum(WEEKDAYS) / 7 * days
    per_w = taps / total_w
    hour_cum = [sum(HOURS[:h + 1]) for h in range(24)]
    seqs = {k: 0 for k, _d, _w in ks}
    mood_bias = [rng.uniform(-0.6, 0.6) for _ in districts]
    skill_mix = [[rng.uniform(0.5, 2.0) for _ in SKILLS] for _ in districts]
    done = 0
    pending = {}  # kiosk -> taps not yet stored (a week goes into one transaction)
    for day in range(first_day, last_day + 1):
        start = day_start_ts(day, tz)
        wd = WEEKDAYS[day_date(day).weekday()]
        drift = 0.4 * math.sin((day - first_day) / 58.0)
        q = qs[day]
        for kid, d, w in ks:
            lam = w * per_w * wd
            n = _poisson(rng, lam)
            if day == last_day:
                n = 0
            if n <= 0:
                continue
            hours = rng.choices(range(24), cum_weights=hour_cum, k=n)
            out = []
            for h in sorted(hours):
                seqs[kid] += 1
                ts = start + h * 3600 + rng.randrange(3600)
                if ts > now:
                    ts = now - rng.randrange(3600)
                if rng.random() < 0.6:
                    m = 2.6 + mood_bias[d] + drift + rng.gauss(0, 0.9)
                    out.append({"seq": seqs[kid], "ts": ts, "kind": "mood",
                                "value": min(4, max(1, int(round(m)))), "q": q})
                else:
                    out.append({"seq": seqs[kid], "ts": ts, "kind": "skill",
                                "value": rng.choices(SKILLS, weights=skill_mix[d])[0], "q": None})
            pending.setdefault(kid, []).extend(out)
        if day == last_day:
            # Top up today so the total is exact (today: only up to now).
            for i in range(taps - done - sum(len(v) for v in pending.values())):
                kid = ks[i % len(ks)][0]
                seqs[kid] += 1
                pending.setdefault(kid, []).append({
                    "seq": seqs[kid], "ts": max(start, now - rng.randrange(max(1, now - start))),
                    "kind": "mood", "value": rng.randint(1, 4), "q": q})
        if (day - first_day) % BATCH_DAYS == BATCH_DAYS - 1 or day == last_day:
            # Never past the total; today's top-up makes it exact.
            batch = _trim([(k, {"boot": 1, "taps": v}) for k, v in pending.items()],
                          taps - done)
            inserted, _dups = store(db, batch, received=now)
            done += inserted
            pending = {}
        if (day - first_day) % 30 == 0 or day == last_day:
            el = time.time() - t0
            progress("seed: day %d/%d, %d taps, %.0f s (%.0f taps/s)"
                     % (day - first_day + 1, days, done, el, done / el if el else 0))
    db.conn.close()
    return {"taps": done, "kiosks": len(ks), "days": days, "seconds": round(time.time() - t0, 1)}


def _poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _trim(batch, limit):
    out, n = [], 0
    for kid, dec in batch:
        take = dec["taps"][:max(0, limit - n)]
        if take:
            out.append((kid, {"boot": dec["boot"], "taps": take}))
            n += len(take)
    return out
