"""Server-side SVG charts: every value is drawn, including a lone one."""
from hub.web import charts


def test_a_single_day_is_drawn_as_a_point_with_its_value():
    svg = str(charts.line([("2026-11-23", 63)], "Taps per day"))
    assert svg.count("<circle") == 1 and "2026-11-23: 63" in svg


def test_gaps_split_the_line_and_isolated_values_stay_visible():
    pts = [("d%d" % i, None if i in (3, 5) else i) for i in range(200)]
    svg = str(charts.line(pts, "Long"))
    # Too many points for a dot each; the one value between two gaps still gets its dot.
    assert svg.count("<circle") == 1 and "d4: 4" in svg
    assert svg.count("M") >= 3  # the path restarts after each gap
