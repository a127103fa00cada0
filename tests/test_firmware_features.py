"""Config, misuse rules, queue-full policy, time reconstruction, safe boot and crash file, on
the real firmware under MicroPython against a real Mosquitto."""
import json
import time

from tests.support.fakenet import FakeNTP
from tests.support.kiosk import SimKiosk, install_into_image
from tests.support.procs import free_port, wait_until


def test_config_push_applied_persisted_and_reported(tmp_path, broker, collector):
    kid = "cfg-1"
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log mqtt connected")
        collector.push_config(kid, {"rev": 5, "question": {"id": "q-5", "text": {
            "en": "Did you find what you needed?", "nl": "Vond u wat u zocht?"}},
            "skills": ["work", "basics"]})
        assert k.wait_line(r"^question ") == "question Did you find what you needed?"
        collector.wait_status(kid, lambda s: s.get("config_rev") == 5)
        k.press(3)
        k.press(4)
        k.press(7)  # no 4th skill in this config: no tap
        acks = k.wait_count("ack", 2)
        assert collector.wait_seqs(kid, acks) == []
        assert collector.taps[(kid, acks[0])]["q"] == "q-5"
        assert collector.taps[(kid, acks[0])]["value"] == 4
        assert collector.taps[(kid, acks[1])]["value"] == "work"
        collector.push_config(kid, {"rev": 4, "question": {"id": "q-4", "text": {"en": "Older"}}})
        collector.push_config(kid, {"rev": "x"})  # refused, logged, nothing else changes
        k.wait_line(r"^log config refused")
    # Persisted: the next boot shows the question before any broker is reachable.
    with SimKiosk(tmp_path / "k", kid, "mqtt://127.0.0.1:%d" % free_port()) as k:
        assert k.wait_line(r"^question ") == "question Did you find what you needed?"
        assert k.stats()["config_rev"] == 5


def test_misuse_rules_filter_and_count(tmp_path, broker, collector):
    kid = "rules-1"
    collector.push_config(kid, {"rev": 2, "cooldown_ms": 800, "burst_max": 4,
                          "burst_window_ms": 60000})
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log config rev 2")
        k.send("press 0", "press 0", "press 1", "wait 900", "press 0", "press 2", "press 3")
        k.wait_line(r"^filtered 3")
        assert k.seqs("filtered") == [0, 3]
        assert len(k.seqs("ack")) == 4
        st = k.stats()
        assert st["filtered"] == 2
        k.send("status")
        collector.wait_status(kid, lambda s: s.get("filtered") == 2)


def test_queue_full_refuses_and_counts(tmp_path, broker, collector):
    kid = "full-1"
    collector.push_config(kid, {"rev": 1, "cooldown_ms": 0, "burst_max": 0, "burst_window_ms": 0})
    with SimKiosk(tmp_path / "k", kid, broker.url, args=["--queue-max", "10"]) as k:
        k.wait_line(r"^log config rev 1")
        broker.stop()
        for i in range(14):
            k.press(i % 8)
        k.wait_count("ack", 10)
        k.wait_line(r"^full")
        time.sleep(0.3)
        assert len(k.seqs("ack")) == 10
        assert sum(1 for _, l in k.lines if l == "full") == 4
        assert k.stats()["refused"] == 4
        broker.start()
        k.wait_count("sent", 10, timeout=45)
        # Room again only once the receipt covers them: a PUBACK alone deletes nothing.
        assert wait_until(lambda: k.stats()["queue"] == 0, 30)
        k.press(0)
        assert k.wait_count("ack", 11)[-1] == 11


def test_time_reconstruction(tmp_path, broker, collector):
    kid = "time-1"
    ntp = FakeNTP()
    try:
        args = ["--ntp", "127.0.0.1:%d" % ntp.port]
        k = SimKiosk(tmp_path / "k", kid, broker.url, args=args)
        with k:  # boot 1 never learns the time
            k.wait_line(r"^log mqtt connected")
            k.press(0)
            first = k.wait_count("ack", 1)[0]
        with k:  # boot 2: a press before the sync, then the clock arrives
            k.wait_line(r"^log mqtt connected")
            k.press(1)
            before = k.wait_count("ack", 1)[0]
            pressed_at = ntp.now()
            assert collector.wait_seqs(kid, [first], timeout=20) == []
            assert collector.taps[(kid, first)]["ts"] is None  # its boot never synced
            time.sleep(1.5)
            assert (kid, before) not in collector.taps  # held until the clock is known
            ntp.enabled = True
            k.wait_line(r"^log clock synced", timeout=20)
            k.press(2)
            after = k.wait_count("ack", 2)[-1]
            assert collector.wait_seqs(kid, [before, after]) == []
            ts = collector.taps[(kid, before)]["ts"]
            assert ts is not None and abs(ts - pressed_at) <= 2.5, (ts, pressed_at)
            assert abs(collector.taps[(kid, after)]["ts"] - ntp.now()) <= 3
    finally:
        ntp.close()


def test_safe_boot_skips_the_app(tmp_path, broker):
    with SimKiosk(tmp_path / "k", "safe-1", broker.url, args=["--safe-boot"]) as k:
        k.wait_line(r"^log safe boot")
        assert k.wait_line(r"^fw ") == "fw 1.0.0"  # at every boot, this one too
        k.proc.wait(10)
        assert k.seqs("ack") == []


def test_crash_is_saved_and_reported(tmp_path, broker, collector):
    kid = "crash-1"
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log mqtt connected")
        k.send("crash")
        k.wait_line(r"^reset")
        assert k.proc.wait(10) == 3
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        st = collector.wait_status(kid, lambda s: s.get("boot") == 2)
        assert "crash requested" in st["crash"]


def test_watchdog_is_fed_only_while_the_tasks_progress(tmp_path):
    from tests.support.kiosk import install_into_image
    site = tmp_path / "site"
    site.mkdir()
    (site / "settings.json").write_text(json.dumps({"alive_ms": 2500, "wdt_ms": 2000}))
    install_into_image(str(tmp_path / "k"), str(site))
    dead = "mqtt://127.0.0.1:%d" % free_port()
    with SimKiosk(tmp_path / "k", "wdt-1", dead) as k:
        end = time.monotonic() + 20
        while k.stats()["wdt_feeds"] < 3:  # healthy: fed every second, no reset
            assert time.monotonic() < end
            time.sleep(0.3)
        assert not any(l == "watchdog reset" for _, l in k.lines)
        since = len(k.lines)
        k.send("stall")
        k.wait_line(r"^watchdog reset", timeout=20, since=since)
        # The Pico W reboots on the same flash: the next boot says so on its console.
        k.wait_line(r"^log kiosk wdt-1 boot 2 ", timeout=20, since=since)
        assert k.proc.poll() is None


def test_clock_resyncs_periodically(tmp_path, broker, collector):
    """After its first sync a kiosk keeps asking NTP (settings `ntp_every_s`, an hour by default):
    when the time source moves, later taps follow it."""
    kid = "resync-1"
    ntp = FakeNTP()
    ntp.enabled = True
    site = tmp_path / "site"
    site.mkdir()
    (site / "settings.json").write_text(json.dumps({"ntp_every_s": 1}))
    install_into_image(str(tmp_path / "k"), str(site))
    try:
        with SimKiosk(tmp_path / "k", kid, broker.url,
                      args=["--ntp", "127.0.0.1:%d" % ntp.port]) as k:
            k.wait_line(r"^log clock synced", timeout=20)
            k.press(0)
            first = k.wait_count("ack", 1)[0]
            ntp.base += 1000  # the time source jumps (a corrected clock, a new NTP server)
            time.sleep(2.5)   # more than one re-sync interval
            k.press(1)
            second = k.wait_count("ack", 2)[-1]
            assert collector.wait_seqs(kid, [first, second]) == []
            assert abs(collector.taps[(kid, first)]["ts"] - (ntp.now() - 1000)) <= 5
            assert abs(collector.taps[(kid, second)]["ts"] - ntp.now()) <= 3
    finally:
        ntp.close()
