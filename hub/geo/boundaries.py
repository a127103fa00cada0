"""District boundaries from GeoJSON: a FeatureCollection with one Polygon or MultiPolygon
feature per district, its name in properties.name (and, if given, its population in
properties.population). A bad file is refused whole, with a message naming what is wrong.

Library functions take the caller's connection; import_districts joins its transaction.
"""
import json
import math
import time



def _(text, **kw):
    """A message in the staff member's language (English outside a request). Imported when a
    message is made, so loading this module does not load the web side."""
    from hub.web.i18n import _ as translated
    return translated(text, **kw)


MAX_BYTES = 5 * 1024 * 1024
MAX_POINTS = 200000


class BadGeoJSON(ValueError):
    """The file is not usable; str(e) says what is wrong and where."""


def _position(p, where):
    if (not isinstance(p, list) or len(p) < 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in p[:2])
            or not all(math.isfinite(c) for c in p[:2])):
        raise BadGeoJSON(_("%(where)s: a position must be [longitude, latitude] numbers.",
                           where=where))
    lon, lat = p[0], p[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadGeoJSON(_("%(where)s: [%(lon)s, %(lat)s] is not a longitude and latitude.",
                           where=where, lon=lon, lat=lat))
    return [float(lon), float(lat)]


def _polygon(rings, where):
    if not isinstance(rings, list) or not rings:
        raise BadGeoJSON(_("%(where)s: a polygon must be a list of rings.", where=where))
    out = []
    for i, ring in enumerate(rings):
        w = "%s, ring %d" % (where, i + 1)
        if not isinstance(ring, list) or len(ring) < 4:
            raise BadGeoJSON(_("%(where)s: a ring needs at least 4 positions.", where=w))
        pts = [_position(p, w) for p in ring]
        if pts[0] != pts[-1]:
            raise BadGeoJSON(_("%(where)s: a ring must end where it starts.", where=w))
        out.append(pts)
    return out


def parse(text):
    """GeoJSON text (str or bytes) -> [{"name", "population", "geometry"}], or BadGeoJSON."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise BadGeoJSON(_("The file is larger than %(n)s MB.", n=MAX_BYTES // 2 ** 20))
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadGeoJSON(_("The file is not UTF-8 text."))
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise BadGeoJSON(_("The file is not JSON (%(why)s).", why=str(e)[:80]))
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        raise BadGeoJSON(_("The file is not a GeoJSON FeatureCollection."))
    feats = obj.get("features")
    if not isinstance(feats, list) or not feats:
        raise BadGeoJSON(_("The FeatureCollection has no features."))
    out, seen, points = [], set(), 0
    for n, f in enumerate(feats, 1):
        where = _("feature %(n)s", n=n)
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise BadGeoJSON(_("%(where)s is not a GeoJSON Feature.", where=where))
        props = f.get("properties")
        name = props.get("name") if isinstance(props, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
            raise BadGeoJSON(_("%(where)s has no name in properties.name.", where=where))
        name = name.strip()
        where = "%s (%s)" % (where, name)
        if name in seen:
            raise BadGeoJSON(_("%(where)s: the name is used by an earlier feature.", where=where))
        seen.add(name)
        pop = props.get("population")
        if pop is not None and (not isinstance(pop, int) or isinstance(pop, bool) or pop < 0):
            raise BadGeoJSON(_("%(where)s: properties.population must be a whole number.",
                               where=where))
        geom = f.get("geometry")
        kind = geom.get("type") if isinstance(geom, dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if kind == "Polygon":
            polys = [_polygon(coords, where)]
        elif kind == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                raise BadGeoJSON(_("%(where)s: a MultiPolygon must be a list of polygons.",
                                   where=where))
            polys = [_polygon(p, "%s, polygon %d" % (where, i + 1)) for i, p in enumerate(coords)]
        elif kind is None:
            raise BadGeoJSON(_("%(where)s has no geometry.", where=where))
        else:
            raise BadGeoJSON(_("%(where)s: geometry type %(kind)s is not Polygon or "
                               "MultiPolygon.", where=where, kind=str(kind)[:30]))
        points += sum(len(r) for p in polys for r in p)
        if points > MAX_POINTS:
            raise BadGeoJSON(_("More than %(n)s positions in all: simplify the boundaries.",
                               n=MAX_POINTS))
        out.append({"name": name, "population": pop,
                    "geometry": {"type": "MultiPolygon", "coordinates": polys}})
    return out


def import_districts(db, text):
    """Replace the map's boundaries with those of a GeoJSON file; districts it names are
    added, and their populations set where the file gives them. -> the names, in file order."""
    feats = parse(text)
    now = int(time.time())
    db.execute("DELETE FROM district_shapes")
    for f in feats:
        db.execute("INSERT INTO district_shapes (name, geometry, imported) VALUES (?, ?, ?)",
                   [f["name"], json.dumps(f["geometry"], separators=(",", ":")), now])
        db.execute("INSERT INTO districts (name, population) VALUES (?, ?) ON CONFLICT (name) "
                   "DO UPDATE SET population = coalesce(excluded.population, population)",
                   [f["name"], f["population"]])
    return [f["name"] for f in feats]


def shapes(db):
    """{district: MultiPolygon coordinates} of the imported boundaries."""
    return {name: json.loads(geom)["coordinates"]
            for name, geom in db.execute("SELECT name, geometry FROM district_shapes")}
