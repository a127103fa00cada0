"""The district map: a server-side SVG choropleth (no tile server, nothing from a CDN).

Boundaries come from hub/geo/boundaries.py; the projection is equirectangular, longitude
scaled by the cosine of the map's middle latitude and fitted to the bounds. Colours: a
sequential single-hue palette (ColorBrewer "Blues", 5 classes), readable with every common
colour-vision deficiency and in greyscale; classes of equal width from 0 to the highest value,
named in a legend; a district without a figure is light grey with a dashed edge and "no data"
in the legend. The page shows the same figures in a table beside the map, each row with its
district's colour, so the map is never the only way to read them.
"""
import math

from markupsafe import Markup, escape

BLUES = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]
NO_DATA = "#f0f0f0"


class Choropleth:
    """.svg: the map (Markup); .colours: {district: fill}; .legend: [(fill, label)]."""

    def __init__(self, svg, colours, legend):
        self.svg, self.colours, self.legend = svg, colours, legend


def classes(values):
    """Upper bounds of the 5 equal-width classes from 0 to the highest value."""
    top = max([v for v in values if v is not None] + [0])
    step = top / len(BLUES) if top > 0 else 1
    return [step * (i + 1) for i in range(len(BLUES))]


def colour(value, bounds):
    if value is None:
        return NO_DATA
    for i, hi in enumerate(bounds):
        if value <= hi + 1e-9:
            return BLUES[i]
    return BLUES[-1]


def _project(shapes, width, height, pad):
    pts = [p for polys in shapes.values() for poly in polys for ring in poly for p in ring]
    lon0, lon1 = min(p[0] for p in pts), max(p[0] for p in pts)
    lat0, lat1 = min(p[1] for p in pts), max(p[1] for p in pts)
    k = math.cos(math.radians((lat0 + lat1) / 2))
    w, h = max((lon1 - lon0) * k, 1e-9), max(lat1 - lat0, 1e-9)
    scale = min((width - 2 * pad) / w, (height - 2 * pad) / h)
    ox = pad + ((width - 2 * pad) - w * scale) / 2
    oy = pad + ((height - 2 * pad) - h * scale) / 2
    return lambda p: (ox + (p[0] - lon0) * k * scale, oy + (lat1 - p[1]) * scale)


def choropleth(shapes, values, title, fmt=None, no_data="no data", width=440, height=340,
               desc=""):
    """shapes {district: MultiPolygon coordinates}, values {district: number or None}."""
    fmt = fmt or (lambda v: "%g" % v)
    bounds = classes(values.values())
    colours = {d: colour(values.get(d), bounds) for d in set(shapes) | set(values)}
    legend, lo = [], 0
    for fill, hi in zip(BLUES, bounds):
        legend.append((fill, "%s – %s" % (fmt(lo), fmt(hi))))
        lo = hi
    if any(values.get(d) is None for d in shapes):
        legend.append((NO_DATA, no_data))
    parts = []
    if shapes:
        proj = _project(shapes, width, height, 8)
        for name in sorted(shapes):
            polys = shapes[name]
            d = ""
            for poly in polys:
                for ring in poly:
                    xy = [proj(p) for p in ring]
                    d += "M" + "L".join("%.1f,%.1f" % q for q in xy) + "Z"
            v = values.get(name)
            fill = colours[name]
            dash = ' stroke-dasharray="4 3"' if v is None else ""
            parts.append('<path d="%s" fill="%s" fill-rule="evenodd" stroke="#252525" '
                         'stroke-width="1"%s data-district="%s"><title>%s: %s</title></path>'
                         % (d, fill, dash, escape(name), escape(name),
                            escape(no_data if v is None else fmt(v))))
            # The name at the middle of the district's largest ring's bounds.
            ring = max((r for poly in polys for r in poly[:1]), key=len)
            xy = [proj(p) for p in ring]
            cx = (min(x for x, _y in xy) + max(x for x, _y in xy)) / 2
            cy = (min(y for _x, y in xy) + max(y for _x, y in xy)) / 2
            dark = fill in BLUES[3:]
            parts.append('<text x="%.1f" y="%.1f" text-anchor="middle" class="map-label" '
                         'fill="%s">%s</text>' % (cx, cy, "#ffffff" if dark else "#000000",
                                                  escape(name)))
    # The legend under the map.
    ly = height + 6
    for i, (fill, label) in enumerate(legend):
        y = ly + i * 20
        parts.append('<rect x="8" y="%d" width="18" height="14" fill="%s" stroke="#252525" '
                     'class="legend-swatch"/><text x="32" y="%d" class="lbl">%s</text>'
                     % (y, fill, y + 12, escape(label)))
    total_h = ly + len(legend) * 20 + 4
    svg = Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart map" viewBox="0 0 %d %d" '
                 'width="%d" height="%d" role="img"><title>%s</title><desc>%s</desc>%s</svg>'
                 % (width, total_h, width, total_h, escape(title), escape(desc),
                    "".join(parts)))
    return Choropleth(svg, colours, legend)
