"""hardware/ agrees with the firmware: the pin table and diagram are generated from the PINS table
of firmware/board_pico_w.py, and the BOM's totals add up."""
import importlib.util
import os
import re

from tests.support.procs import ROOT

HW = os.path.join(ROOT, "hardware")


def load_wiring():
    spec = importlib.util.spec_from_file_location("make_wiring", os.path.join(HW, "make_wiring.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_firmware_pins_are_valid_and_the_docs_match_them():
    w = load_wiring()
    table, notes = w.rows(w.read_pins()), w.read_notes()
    assert w.check(table) == []
    gpios = [g for _, g in table if g != "LED"]
    assert len(gpios) >= 10  # 8 buttons, the confirm LED, the sounder at least
    readme = open(os.path.join(HW, "README.md"), encoding="utf-8").read()
    assert w.readme_with(table, readme, notes) == readme, \
        "hardware/README.md pin table is stale: run python3 hardware/make_wiring.py"
    assert open(os.path.join(HW, "wiring.svg"), encoding="utf-8").read() == w.svg(table, notes), \
        "hardware/wiring.svg is stale: run python3 hardware/make_wiring.py"
    for name, gpio in table:  # every pin is in the README table with its header pin
        if gpio != "LED":
            assert "| `%s` | GP%d | %d |" % (name, gpio, w.PHYSICAL[gpio]) in readme
    # The firmware's comment on each pin is what the docs say it is wired to.
    assert notes and all(notes[n] in readme for n in notes)


def test_pin_checks_catch_mistakes():
    w = load_wiring()
    assert w.check([("a", 2), ("b", 2)]) == ["b: GP2 already used by a"]
    assert "drives the radio" in w.check([("wl", 25)])[0]
    assert "not a free GPIO" in w.check([("x", 30)])[0]
    assert w.rows({"buttons": [2, 3], "led": "LED", "i2c": {"sda": 4}}) == [
        ("buttons[0]", 2), ("buttons[1]", 3), ("led", "LED"), ("i2c.sda", 4)]
    assert w.describe("buttons[5]").startswith("skills button 2")
    assert w.describe("skill2").startswith("skills button 2")
    assert w.describe("led", {"led": "the LED, 330 ohm"}) == "the LED, 330 ohm"


def money(s):
    return float(s.replace("€", "").replace(",", "").strip())


def test_bom_totals_add_up():
    """Each build's table ends with its total; the lines above it must sum to it."""
    text = open(os.path.join(HW, "BOM.md"), encoding="utf-8").read()
    tables = re.findall(r"((?:^\|.*\|\n)+)", text, re.M)
    checked = 0
    for t in tables:
        lines = [l for l in t.strip().split("\n") if not set(l) <= set("|-: ")]
        head = [c.strip().lower() for c in lines[0].strip("|").split("|")]
        if "qty" not in head or "line €" not in head:
            continue
        qi, ui, li = head.index("qty"), head.index("unit €"), head.index("line €")
        total = 0.0
        for line in lines[1:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if "total" in cells[0].lower():
                assert abs(money(cells[li].strip("*")) - total) < 0.01, (cells, total)
                checked += 1
                break
            assert abs(float(cells[qi]) * money(cells[ui]) - money(cells[li])) < 0.01, cells
            total += money(cells[li])
        else:
            raise AssertionError("BOM table without a total row: " + lines[0])
    assert checked >= 2  # indoor and outdoor builds
