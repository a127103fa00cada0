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


def test_axes_have_round_ticks_formatted_for_the_page():
    assert charts.ticks(0, 1234) == [0, 500, 1000]
    assert charts.ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    svg = str(charts.line([("a", 0), ("b", 1234.5)], "T", fmt=lambda v: "<%s>" % v))
    assert "&lt;1000&gt;" in svg and "&lt;1234.5&gt;" in svg   # ticks and values through fmt


def test_a_partial_period_is_hollow_and_named_in_the_legend():
    pts = [("2026-11-%02d" % d, 10) for d in range(1, 8)]
    svg = str(charts.line(pts, "T", partial=[6], partial_label="not complete"))
    assert svg.count('fill="#fff"') == 2            # the hollow point and its legend entry
    assert "2026-11-07: 10 (not complete)" in svg


def test_the_heatmap_has_a_legend_from_its_lowest_to_its_highest_value():
    svg = str(charts.heat([[1, None], [9, 5]], ["Mon", "Tue"], [0, 1], "H",
                          legend=("few", "many", "no data")))
    assert 'class="legend"' in svg and "9 (few – many)" in svg and "no data" in svg


def test_overview_marks_the_running_week_as_partial(tmp_path):
    import time
    from hub.store.connection import open_db
    from hub.web.filters import Filters
    from hub.web.overview import overview
    db = open_db(str(tmp_path / "c.db"))
    now = int(time.time())
    points = overview(db, Filters(start=None, end=None), now)["trend"]["points"]
    assert points[-1]["partial"] is True          # today is in it: still running
    year = overview(db, Filters(start=19000, end=19400), now)["trend"]
    assert year["bucket"] == "week" and not any(p["partial"] for p in year["points"][1:-1])
