"""The whole tap path on real parts (issue 2): Mosquitto, `civic serve`, `civic kiosk sim` running the
real firmware under MicroPython, all driven through the CLI and HTTP contract."""
import json
import sqlite3
import time

import pytest

from tests.support.hubproc import HubProc
from tests.support.kiosk import SimKiosk
from tests.support.procs import wait_until

# Rules off so the test can press quickly; the misuse rules have tests of their own.
FAST_CONFIG = {"question": {"id": "q-e2e", "text": {"en": "How is the e2e test?"}},
               "skills": ["basics", "eservices", "safety", "work"],
               "cooldown_ms": 0, "burst_max": 0, "burst_window_ms": 0}


def push_config(db, kiosk, cfg, rev):
    """Put a config where the hub publishes it from (as the Questions page does)."""
    c = sqlite3.connect(db)
    with c:
        c.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                  "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (kiosk) DO UPDATE SET rev = excluded.rev, "
                  "payload = excluded.payload, updated = excluded.updated, published = NULL",
                  [kiosk, rev, json.dumps(dict(cfg, rev=rev)), int(time.time())])
    c.close()


def tap_seqs(db, kiosk):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return [r[0] for r in c.execute("SELECT seq FROM taps WHERE kiosk = ? ORDER BY seq", [kiosk])]
    finally:
        c.close()


@pytest.fixture
def hub(broker, tmp_path):
    h = HubProc(broker.url, tmp_path / "civic.db").start()
    h.make_token()
    yield h
    h.stop()


@pytest.fixture
def sims():
    started = []
    yield started
    for s in started:
        s.kill()


def start_sim(sims, kid, broker, tmp_path):
    s = SimKiosk(tmp_path / kid, kid, broker.url, heap="160K").start()
    sims.append(s)
    return s


def press_many(sim, buttons, wait_ms):
    sim.send(*[c for b in buttons for c in ("press %d" % b, "wait %d" % wait_ms)])


def test_presses_reach_the_api_and_survive_a_power_cut(broker, hub, sims, tmp_path):
    assert hub.status("/api/v1/summary", token="wrong") == 401
    for kid in ("e2e-a", "e2e-b"):
        push_config(hub.db, kid, FAST_CONFIG, rev=1)
    a = start_sim(sims, "e2e-a", broker, tmp_path)
    b = start_sim(sims, "e2e-b", broker, tmp_path)
    for k in (a, b):
        k.wait_line(r"^question How is the e2e test\?$", 30)

    # 100 presses: every button on both kiosks.
    pressed_a = [i % 8 for i in range(50)]
    pressed_b = [(i + 3) % 8 for i in range(50)]
    press_many(a, pressed_a, 20)
    press_many(b, pressed_b, 20)
    a.wait_count("ack", 50, 60)
    b.wait_count("ack", 50, 60)
    assert wait_until(lambda: hub.get("/api/v1/summary")["taps"] == 100, 30), hub.get("/api/v1/summary")
    s = hub.get("/api/v1/summary")
    # Buttons 0-3 are mood 1..4, buttons 4-7 the skills in config order.
    pressed = pressed_a + pressed_b
    assert s["mood"]["by_value"] == {str(v): pressed.count(v - 1) for v in (1, 2, 3, 4)}
    skills = FAST_CONFIG["skills"]
    assert {k: s["skills"].get(k) for k in skills} == {k: pressed.count(4 + i)
                                                        for i, k in enumerate(skills)}
    ids = {k["id"] for k in hub.get("/api/v1/kiosks")}
    assert {"e2e-a", "e2e-b"} <= ids

    # A power cut while pressing: kill -9 mid-stream, restart with the same flash.
    press_many(a, [i % 8 for i in range(60)], 15)
    a.wait_count("ack", 70, 30)
    a.kill()
    acked_first_life = set(a.seqs("ack"))
    a.start()
    press_many(a, [i % 8 for i in range(20)], 15)
    a.wait_count("ack", 20, 30)
    second_life = a.seqs("ack")
    assert not acked_first_life & set(second_life), "a seq was reused after the power cut"
    acked = acked_first_life | set(second_life)
    assert wait_until(lambda: acked <= set(tap_seqs(hub.db, "e2e-a")), 60), \
        sorted(acked - set(tap_seqs(hub.db, "e2e-a")))[:10]
    seqs = tap_seqs(hub.db, "e2e-a")
    assert len(seqs) == len(set(seqs))

    # Nothing acked is missing and nothing is counted twice: the API agrees with the rows.
    def api_matches_rows():
        rows = len(tap_seqs(hub.db, "e2e-a")) + len(tap_seqs(hub.db, "e2e-b"))
        return hub.get("/api/v1/summary")["taps"] == rows
    assert wait_until(api_matches_rows, 10)
