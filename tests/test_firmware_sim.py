"""The real firmware under MicroPython (`civic kiosk sim`) against a real Mosquitto."""
import json

from protocol import v1
from tests.support.kiosk import SimKiosk


def test_presses_become_taps_exactly_once(tmp_path, broker, collector):
    with SimKiosk(tmp_path / "k", "lib-north-1", broker.url) as k:
        for b in range(8):
            k.press(b)
        acks = k.wait_count("ack", 8)
        assert acks == list(range(1, 9))
        k.wait_count("sent", 8)
        assert collector.wait_seqs("lib-north-1", acks) == []
        taps = [collector.taps[("lib-north-1", s)] for s in acks]
        assert [(t["kind"], t["value"], t["q"]) for t in taps] == [
            ("mood", 1, None), ("mood", 2, None), ("mood", 3, None), ("mood", 4, None),
            ("skill", "basics", None), ("skill", "eservices", None),
            ("skill", "safety", None), ("skill", "work", None)]
        assert all(isinstance(t["ts"], int) for t in taps)  # the PC's clock by default
        assert collector.deliveries == 8 and not collector.conflicts
        st = collector.wait_status("lib-north-1", lambda s: s.get("online") is True)
        for key in ("fw", "boot", "uptime", "queue", "mem_free", "rssi", "config_rev",
                    "filtered", "ts"):
            assert key in st
        v1.decode_status(json.dumps(st))
    # A restart continues the seq on the same flash.
    with SimKiosk(tmp_path / "k", "lib-north-1", broker.url) as k:
        k.press(0)
        assert k.wait_count("ack", 1) == [9]
        k.wait_count("sent", 1)


def test_wait_pauses_the_reader_and_eof_keeps_the_kiosk_running(tmp_path, broker, collector):
    kid = "eof-1"
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log mqtt connected")
        k.send("press 0", "wait 700", "press 1")
        first = k.wait_count("ack", 1)
        t_first = next(t for t, l in k.lines if l == "ack %d" % first[0])
        second = k.wait_count("ack", 2)[1]
        t_second = next(t for t, l in k.lines if l == "ack %d" % second)
        assert t_second - t_first >= 0.6
        k.proc.stdin.close()  # EOF: nobody presses any more; the kiosk goes on
        collector.push_config(kid, {"rev": 3, "question": {"id": "q-3", "text": {"en": "Still there?"}}})
        assert k.wait_line(r"^question ") == "question Still there?"
        assert collector.wait_seqs(kid, [1, 2]) == []
        assert k.proc.poll() is None


def test_bad_command_lines_are_clear_errors(tmp_path):
    import subprocess
    from tests.support.procs import BIN
    civic = BIN + "/civic"
    for args, msg in ((["--id", "BAD", "--broker", "mqtt://127.0.0.1:1"], "kiosk id"),
                      (["--id", "k-1", "--broker", "http://h:1"], "--broker must be"),
                      (["--broker", "mqtt://127.0.0.1:1"], "--id and --broker are required"),
                      (["--id", "k-1", "--broker", "mqtt://h:1", "--build", str(tmp_path)],
                       "has no main.py")):
        r = subprocess.run([civic, "kiosk", "sim", "--dir", str(tmp_path / "k")] + args,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and msg in r.stderr, (args, r.stdout, r.stderr)
