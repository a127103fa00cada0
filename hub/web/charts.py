"""Small server-side SVG charts (no JavaScript, nothing from a CDN).

Colours: the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies;
every chart also has a <title>/<desc> and the page shows the same numbers as a table.
Axes have ticks at round values; numbers and dates come formatted for the page's language
(fmt, xfmt: the page passes hub/web/formatting.py's); a period the data does not fully cover
(the running week, a month cut by the filter) is drawn hollow and named in the legend, so it
does not read as a drop or a spike.
"""
import math

from markupsafe import Markup, escape

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
MOOD_COLOURS = {"1": "#D55E00", "2": "#E69F00", "3": "#56B4E9", "4": "#0072B2"}


def _svg(w, h, title, body, desc=""):
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" '
        'height="%d" role="img"><title>%s</title><desc>%s</desc>%s</svg>'
        % (w, h, w, h, escape(title), escape(desc), body))


def bars(items, title, desc="", colours=None, width=520, bar_h=26, fmt=None, label_w=170):
    """Horizontal bars: items = [(label, value)]. One colour unless colours mean something
    (e.g. the mood scale), so no colour suggests a meaning it does not have."""
    colours = colours or [PALETTE[0]]
    top = max([v or 0 for _l, v in items] + [1])
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * (bar_h + 8) + 4
        w = int((width - label_w - 70) * (value or 0) / top)
        parts.append('<text x="0" y="%d" class="lbl">%s</text>' % (y + bar_h * 0.7, escape(label)))
        parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>'
                     % (label_w, y, max(w, 1), bar_h, colours[i % len(colours)]))
        parts.append('<text x="%d" y="%d" class="val">%s</text>'
                     % (label_w + 6 + w, y + bar_h * 0.7, escape((fmt or _num)(value or 0))))
    return _svg(width, len(items) * (bar_h + 8) + 8, title, "".join(parts), desc)


def ticks(lo, hi, most=5):
    """Round tick values from lo to hi: steps of 1, 2 or 5 times a power of ten."""
    span = (hi - lo) or 1
    raw = span / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def line(points, title, desc="", lo=None, hi=None, colour=PALETTE[0], width=640, height=220,
         fmt=None, xfmt=None, partial=(), partial_label="partial period"):
    """A line over points = [(label, value or None)]; gaps where value is None; the indexes in
    `partial` drawn hollow. Y ticks at round values, about six dated x ticks."""
    fmt, xfmt = fmt or _num, xfmt or str
    vals = [v for _l, v in points if v is not None]
    top = max(vals + [1])
    lo = min(vals + [0]) if lo is None else lo
    yt = ticks(lo, top if hi is None else hi)
    if hi is None and yt[-1] < top:   # one more round tick above the highest value
        yt.append(yt[-1] + (yt[1] - yt[0] if len(yt) > 1 else 1))
    hi = yt[-1] if hi is None else hi
    span = (hi - lo) or 1
    n = max(len(points) - 1, 1)
    left, bottom = 56, height - 36

    def xy(i, v):
        return left + (width - left - 12) * i / n, bottom - (bottom - 10) * (v - lo) / span

    parts = []
    for t in yt:
        y = xy(0, t)[1]
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>'
                     '<text x="%d" y="%.1f" class="lbl" text-anchor="end">%s</text>'
                     % (left, y, width - 12, y, left - 6, y + 4, escape(fmt(t))))
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>'
                 % (left, bottom, width - 12, bottom))
    every = max(1, math.ceil(len(points) / 6))
    for i in range(0, len(points), every):
        x = xy(i, lo)[0]
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="axis"/>'
                     '<text x="%.1f" y="%d" class="lbl" text-anchor="middle">%s</text>'
                     % (x, bottom, x, bottom + 4, x, bottom + 18, escape(xfmt(points[i][0]))))
    path, pen, dots = [], "M", []
    for i, (label, v) in enumerate(points):
        if v is None:
            pen = "M"
            continue
        x, y = xy(i, v)
        path.append("%s%.1f %.1f" % (pen, x, y))
        pen = "L"
        # A dot per point (with its value on hover) while there are few enough to tell apart,
        # and always for a point with no neighbour (a line of one point draws nothing) or for
        # a partial period (hollow: it covers fewer days than the others).
        alone = ((i == 0 or points[i - 1][1] is None)
                 and (i == len(points) - 1 or points[i + 1][1] is None))
        if len(points) <= 90 or alone or i in partial:
            fill = "#fff" if i in partial else colour
            dots.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" stroke="%s"><title>%s: %s'
                        '%s</title></circle>' % (x, y, fill, colour, escape(xfmt(label)),
                                                 escape(fmt(v)), " (%s)" % escape(partial_label)
                                                 if i in partial else ""))
    parts.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"/>'
                 % (" ".join(path), colour))
    if partial:
        parts.append('<circle cx="%d" cy="%d" r="3.5" fill="#fff" stroke="%s"/>'
                     '<text x="%d" y="%d" class="lbl">%s</text>'
                     % (left + 4, height - 6, colour, left + 12, height - 2,
                        escape(partial_label)))
    return _svg(width, height, title, "".join(parts) + "".join(dots), desc)


def _num(v):
    return ("%d" % v) if float(v).is_integer() else ("%.1f" % v)


def heat(grid, rows, cols, title, desc="", cell=22, fmt=None, legend=("low", "high")):
    """A grid of values (rows x cols, None allowed) shaded from light to dark blue, with a
    legend of five steps from the lowest to the highest value (and 'no data' in grey)."""
    fmt = fmt or _num
    vals = [v for r in grid for v in r if v is not None]
    top = max(vals + [1])
    lo = min(vals + [0])

    def shade(v):
        return "rgba(0,114,178,%.2f)" % (0.08 + 0.92 * (v - lo) / ((top - lo) or 1))

    parts = []
    for j, c in enumerate(cols):
        if j % 3 == 0:
            parts.append('<text x="%d" y="12" class="lbl">%s</text>' % (40 + j * cell, c))
    for i, r in enumerate(rows):
        parts.append('<text x="0" y="%d" class="lbl">%s</text>' % (34 + i * cell, escape(r)))
        for j in range(len(cols)):
            v = grid[i][j]
            fill = "#eeeeee" if v is None else shade(v)
            parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s">'
                         '<title>%s %s: %s</title></rect>'
                         % (40 + j * cell, 18 + i * cell, cell - 2, cell - 2, fill, escape(r),
                            cols[j], "-" if v is None else escape(fmt(v))))
    y = 30 + len(rows) * cell
    parts.append('<g class="legend"><text x="0" y="%d" class="lbl">%s</text>'
                 % (y + 14, escape(fmt(lo))))
    for k in range(5):
        v = lo + (top - lo) * k / 4
        parts.append('<rect x="%d" y="%d" width="%d" height="16" fill="%s"><title>%s</title>'
                     '</rect>' % (60 + k * 26, y, 24, shade(v), escape(fmt(v))))
    parts.append('<text x="%d" y="%d" class="lbl">%s (%s – %s)</text>'
                 '<rect x="60" y="%d" width="24" height="16" fill="#eeeeee"/>'
                 '<text x="92" y="%d" class="lbl">%s</text></g>'
                 % (196, y + 14, escape(fmt(top)), escape(legend[0]), escape(legend[1]),
                    y + 22, y + 36, escape(legend[2] if len(legend) > 2 else "no data")))
    return _svg(40 + len(cols) * cell, y + 44, title, "".join(parts), desc)
