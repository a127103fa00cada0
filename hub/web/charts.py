"""Small server-side SVG charts (no JavaScript, nothing from a CDN).

Colours: the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies;
every chart also has a <title>/<desc> and the page shows the same numbers as a table.
"""
from markupsafe import Markup, escape

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
MOOD_COLOURS = {"1": "#D55E00", "2": "#E69F00", "3": "#56B4E9", "4": "#0072B2"}


def _svg(w, h, title, body, desc=""):
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" '
        'height="%d" role="img"><title>%s</title><desc>%s</desc>%s</svg>'
        % (w, h, w, h, escape(title), escape(desc), body))


def bars(items, title, desc="", colours=None, width=480, bar_h=26):
    """Horizontal bars: items = [(label, value)]. One colour unless colours mean something
    (e.g. the mood scale), so no colour suggests a meaning it does not have."""
    colours = colours or [PALETTE[0]]
    top = max([v or 0 for _l, v in items] + [1])
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * (bar_h + 8) + 4
        w = int((width - 200) * (value or 0) / top)
        parts.append('<text x="0" y="%d" class="lbl">%s</text>' % (y + bar_h * 0.7, escape(label)))
        parts.append('<rect x="130" y="%d" width="%d" height="%d" fill="%s"/>'
                     % (y, max(w, 1), bar_h, colours[i % len(colours)]))
        parts.append('<text x="%d" y="%d" class="val">%s</text>'
                     % (136 + w, y + bar_h * 0.7, escape(value)))
    return _svg(width, len(items) * (bar_h + 8) + 8, title, "".join(parts), desc)


def line(points, title, desc="", lo=None, hi=None, colour=PALETTE[0], width=640, height=200):
    """A line over points = [(label, value or None)]; gaps where value is None."""
    vals = [v for _l, v in points if v is not None]
    lo = min(vals + [0]) if lo is None else lo
    hi = max(vals + [1]) if hi is None else hi
    span = (hi - lo) or 1
    n = max(len(points) - 1, 1)
    path, pen, dots = [], "M", []
    for i, (label, v) in enumerate(points):
        if v is None:
            pen = "M"
            continue
        x = 40 + (width - 50) * i / n
        y = height - 20 - (height - 30) * (v - lo) / span
        path.append("%s%.1f %.1f" % (pen, x, y))
        pen = "L"
        # A dot per point (with its value on hover) while there are few enough to tell apart,
        # and always for a point with no neighbour: a line of one point draws nothing.
        alone = ((i == 0 or points[i - 1][1] is None)
                 and (i == len(points) - 1 or points[i + 1][1] is None))
        if len(points) <= 90 or alone:
            dots.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s</title>'
                        '</circle>' % (x, y, colour, escape(str(label)), _num(v)))
    axis = ('<line x1="40" y1="%d" x2="%d" y2="%d" class="axis"/>'
            '<text x="0" y="%d" class="lbl">%s</text><text x="0" y="14" class="lbl">%s</text>'
            % (height - 20, width - 10, height - 20, height - 20, _num(lo), _num(hi)))
    ends = ""
    if points:
        ends = ('<text x="40" y="%d" class="lbl">%s</text>'
                '<text x="%d" y="%d" class="lbl" text-anchor="end">%s</text>'
                % (height - 4, escape(points[0][0]), width - 10, height - 4,
                   escape(points[-1][0])))
    body = axis + ends + ('<path d="%s" fill="none" stroke="%s" stroke-width="2"/>'
                          % (" ".join(path), colour)) + "".join(dots)
    return _svg(width, height, title, body, desc)


def _num(v):
    return ("%d" % v) if float(v).is_integer() else ("%.1f" % v)


def heat(grid, rows, cols, title, desc="", cell=22):
    """A grid of values (rows x cols, None allowed) shaded from light to dark blue."""
    vals = [v for r in grid for v in r if v is not None]
    top = max(vals + [1])
    lo = min(vals + [0])
    parts = []
    for j, c in enumerate(cols):
        if j % 3 == 0:
            parts.append('<text x="%d" y="12" class="lbl">%s</text>' % (40 + j * cell, c))
    for i, r in enumerate(rows):
        parts.append('<text x="0" y="%d" class="lbl">%s</text>' % (34 + i * cell, escape(r)))
        for j in range(len(cols)):
            v = grid[i][j]
            if v is None:
                fill = "#eeeeee"
            else:
                a = 0.08 + 0.92 * (v - lo) / ((top - lo) or 1)
                fill = "rgba(0,114,178,%.2f)" % a
            parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s">'
                         '<title>%s %s: %s</title></rect>'
                         % (40 + j * cell, 18 + i * cell, cell - 2, cell - 2, fill, escape(r),
                            cols[j], "-" if v is None else _num(v)))
    return _svg(40 + len(cols) * cell, 22 + len(rows) * cell, title, "".join(parts), desc)
