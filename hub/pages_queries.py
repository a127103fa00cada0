"""Read queries for the Districts and Heatmap views (over agg_day / agg_how / rollup_hourly)."""
from hub import queries
from hub.rollups import city_tz, local_hour


def districts(db, f):
    """Side by side per district; participation per 1,000 residents where populations are
    given; the districts that ask least for skills help flagged (bottom quarter, at least one
    when there are three or more districts): the digital-divide view."""
    where = "scope >= 'd:' AND scope < 'd;' AND day BETWEEN ? AND ?"
    args = [queries.FAR_PAST if f.start is None else f.start,
            queries.FAR_FUTURE if f.end is None else f.end]
    if f.question:
        where += " AND q = ?"
        args.append(f.question)
    if f.district:
        where = "scope = ? AND " + where
        args.insert(0, "d:" + f.district)
    if f.kiosk:  # one kiosk: its own figures under its district's name
        row = db.execute("SELECT district FROM kiosks WHERE id = ?", [f.kiosk]).fetchone()
        where = where.replace("scope >= 'd:' AND scope < 'd;'", "scope = ?")
        args.insert(0 if not f.district else 1, "k:" + f.kiosk)
        name = lambda _s: (row[0] or "") if row else ""  # noqa: E731
    else:
        name = lambda s: s[2:]  # noqa: E731
    rows = db.execute("SELECT scope, kind, value, sum(n) FROM agg_day WHERE " + where +
                      " GROUP BY scope, kind, value", args).fetchall()
    pops = dict(db.execute("SELECT name, population FROM districts").fetchall())
    kiosks = dict(db.execute("SELECT coalesce(district, ''), count(*) FROM kiosks "
                             "GROUP BY 1").fetchall())
    by = {}
    for scope, kind, value, n in rows:
        queries.add_count(by.setdefault(name(scope), queries.empty_summary()), kind, value, n)
    for d in pops:
        if not f.district and not f.kiosk:
            by.setdefault(d, queries.empty_summary())
    out = []
    for d, s in sorted(by.items()):
        queries.finish(s)
        pop = pops.get(d)
        skill_taps = sum(s["skills"].values())
        out.append({
            "district": d, "population": pop, "kiosks": kiosks.get(d, 0), "taps": s["taps"],
            "per_1000": round(s["taps"] * 1000 / pop, 2) if pop else None,
            "mood": s["mood"], "skills": s["skills"],
            "skills_per_1000": round(skill_taps * 1000 / pop, 2) if pop else None,
            "skills_per_kiosk": round(skill_taps / kiosks[d], 1) if kiosks.get(d) else None,
            "asks_least": False,
        })
    _flag_least(out)
    return {"districts": out}


def _flag_least(rows):
    key = "skills_per_1000" if any(r["skills_per_1000"] is not None for r in rows) \
        else "skills_per_kiosk"
    ranked = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key])
    if len(ranked) >= 3:
        for r in ranked[:max(1, len(ranked) // 4)]:
            r["asks_least"] = True


def heatmap(db, f):
    """Hour of day x weekday (city time), participation and mood index per cell."""
    lo = queries.FAR_PAST if f.start is None else f.start
    hi = queries.FAR_FUTURE if f.end is None else f.end
    if f.kiosk or (f.question and f.district):
        # Fine grain: one kiosk's or one question's hours, bucketed here in city time.
        col, val = ("kiosk", f.kiosk) if f.kiosk else ("q", f.question)
        tz = city_tz(db)
        sql = ("SELECT hour, kind, value, sum(n) FROM rollup_hourly WHERE %s = ? " % col)
        args = [val]
        if f.kiosk and f.question:
            sql += "AND q = ? "
            args.append(f.question)
        if f.district:
            sql += "AND kiosk IN (SELECT id FROM kiosks WHERE district = ?) "
            args.append(f.district)
        rows = []
        for hour, kind, value, n in db.execute(sql + "GROUP BY 1, 2, 3", args).fetchall():
            day, how = local_hour(tz, hour)
            if lo <= day <= hi:
                rows.append((how, kind, value if kind == "mood" else "", n))
    else:
        scope = "d:" + f.district if f.district else ("q:" + f.question if f.question else "*")
        rows = db.execute("SELECT how, kind, value, sum(n) FROM agg_how WHERE scope = ? AND "
                          "day BETWEEN ? AND ? GROUP BY 1, 2, 3", [scope, lo, hi]).fetchall()
    taps = [[0] * 24 for _ in range(7)]
    moods = [[{"1": 0, "2": 0, "3": 0, "4": 0} for _ in range(24)] for _ in range(7)]
    for how, kind, value, n in rows:
        wd, h = divmod(how, 24)
        taps[wd][h] += n
        if kind == "mood":
            moods[wd][h][str(value)] += n
    return {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "hours": list(range(24)), "taps": taps,
            "mood_index": [[queries.mood_index(c) for c in row] for row in moods],
            "mood_count": [[sum(c.values()) for c in row] for row in moods],
            "timezone": city_tz(db)}
