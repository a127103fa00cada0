"""The firmware on the Pico W model (`civic kiosk sim`, the sim of README.md): 30-bit ticks that
start near a wrap, an RTC at 2021-01-01 until sync, lwIP's blocking DNS and its 5 sockets, the
watchdog that resets the board, presses latched by interrupt. One test per field problem of
issue 12, each of which failed on the firmware before its fix."""
import json
import time

from protocol import v1
from tests.support.collector import OPEN_RULES
from tests.support.fakenet import FakeDNS, FakeNTP
from tests.support.kiosk import SimKiosk, install_into_image
from tests.support.procs import free_port

WRAP = 1 << 30


def site(tmp_path, name, **settings):
    d = tmp_path / ("site-" + name)
    d.mkdir()
    (d / "settings.json").write_text(json.dumps(settings))
    install_into_image(str(tmp_path / name), str(d))
    return tmp_path / name


def test_the_sim_is_a_pico_w(tmp_path):
    """Ticks 60 s before their wrap (or --ticks-start), the RTC at 2021-01-01 until a sync
    (the NTP server here never answers), the version on the console at boot."""
    silent = "127.0.0.1:%d" % free_port()
    dead = "mqtt://127.0.0.1:%d" % free_port()
    with SimKiosk(tmp_path / "a", "pico-1", dead, args=["--ntp", silent]) as k:
        assert k.wait_line(r"^fw ") == "fw 1.0.0"
        st = k.stats()
        assert WRAP - 60000 <= st["ticks"] < WRAP and st["uptime"] < 60
        assert 1609459200 <= st["rtc"] < 1609459200 + 60 and st["synced"] is False
    with SimKiosk(tmp_path / "b", "pico-1", dead,
                  args=["--ntp", silent, "--ticks-start", "5000", "--flash-timing", "off"]) as k:
        assert 5000 <= k.stats()["ticks"] < 5000 + 60000


def test_reconnects_do_not_leak_sockets(tmp_path, broker, collector):
    """StreamWriter.close() is a no-op in MicroPython's asyncio: every reconnect kept its socket
    open, and with lwIP's 5 the sixth connect failed for good (OSError 12)."""
    kid = "leak-1"
    collector.push_config(kid, OPEN_RULES)
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log mqtt connected")
        for i in range(6):
            since = len(k.lines)
            k.send("wifi off")
            k.wait_line(r"^log mqtt lost", since=since)
            k.send("wifi on")
            k.wait_line(r"^log mqtt (connected|connect failed)", timeout=30, since=since)
            assert k.wait_line(r"^log mqtt (connected|connect failed)", since=since) == \
                "log mqtt connected", "reconnect %d: %s" % (i + 1, k.tail(5))
        assert k.stats()["sockets"] == 1  # the one MQTT connection, nothing left behind
        k.press(0)
        acks = k.wait_count("ack", 1)
        assert collector.wait_seqs(kid, acks) == []


def test_an_unreachable_dns_server_never_starves_the_watchdog(tmp_path, broker, collector):
    """The broker by name, its DNS server down: lwIP's getaddrinfo blocked the loop for as long
    as the lookup took (here 12 s: two servers), the 8.4 s watchdog reset the board and no
    press was confirmed meanwhile. Now the kiosk asks the DNS server itself without blocking:
    presses are confirmed, the watchdog fed, and once DNS answers the kiosk connects."""
    kid = "dns-1"
    collector.push_config(kid, OPEN_RULES)
    dns = FakeDNS(answering=False)
    try:
        url = "mqtt://localhost:%d" % broker.port
        d = site(tmp_path, "k", dns="127.0.0.1:%d" % dns.port, dns_block_ms=12000)
        with SimKiosk(d, kid, url) as k:
            k.wait_line(r"^log kiosk ")
            end = time.monotonic() + 30
            while dns.queries < 2:
                assert time.monotonic() < end, k.tail()
                time.sleep(0.1)
            for b in range(3):
                since = len(k.lines)
                t0 = time.monotonic()
                k.press(b)
                k.wait_line(r"^ack ", timeout=20, since=since)
                assert time.monotonic() - t0 < 5, "a press waited on DNS"
            while k.stats()["wdt_feeds"] < 12:  # 12 s of a fed watchdog (it resets at 8.4 s)
                assert time.monotonic() < end + 30, k.tail()
                time.sleep(0.3)
            assert not any(l == "watchdog reset" for _, l in k.lines), k.tail()
            assert k.seqs("sent") == []
            dns.answering = True
            k.wait_count("sent", 3, timeout=60)
        assert collector.wait_seqs(kid, [1, 2, 3]) == []
    finally:
        dns.close()


def test_a_press_while_the_loop_is_blocked_keeps_its_time_and_is_confirmed(tmp_path, broker,
                                                                          collector):
    """The loop blocked (`busy`: a TLS handshake's arithmetic, an erase storm): presses are
    latched by the pin interrupt with their ticks, confirmed as soon as the loop is free, and
    the misuse rules see when they happened: a second press of button 0 inside its cooldown
    is filtered even though the loop only saw it after the cooldown had passed."""
    kid = "latch-1"
    collector.push_config(kid, {"rev": 1, "cooldown_ms": 2000, "burst_max": 0,
                                "burst_window_ms": 0})
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log config rev 1")
        k.press(0)
        k.wait_count("ack", 1)
        since = len(k.lines)
        k.send("busy 4000", "wait 300", "press 0", "press 1")
        k.wait_line(r"^filtered 0", timeout=20, since=since)
        assert k.wait_count("ack", 2)[-1] == 2
        assert collector.wait_seqs(kid, [1, 2]) == []
        assert collector.taps[(kid, 2)]["value"] == 2


def test_mqtts_waits_for_a_trustworthy_time(tmp_path):
    """With a CA, the Pico W's mbedTLS checks the broker's certificate against an RTC that boots
    at 2021-01-01. Before: the kiosk tried at once, failed, and never set its RTC from NTP at
    all in the sim, so it never connected. Now: no handshake before NTP, the RTC set at every
    sync and the last known time kept on flash, so the next boot connects with NTP blocked."""
    from tests.support.certs import make_certs
    from tests.support.collector import Collector
    from tests.support.procs import Mosquitto
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certs(certs)
    tls_port = free_port()
    broker = Mosquitto(tmp_path / "broker", extra=[
        "listener %d 127.0.0.1" % tls_port, "cafile %s" % (certs / "ca.pem"),
        "certfile %s" % (certs / "server.crt"), "keyfile %s" % (certs / "server.key")]).start()
    col = Collector(broker.port).start()
    ntp = FakeNTP()
    try:
        d = tmp_path / "site"
        d.mkdir()
        (d / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
        (d / "settings.json").write_text(json.dumps({"ca": "ca.pem", "time_hold_s": 0}))
        install_into_image(str(tmp_path / "k"), str(d))
        url = "mqtts://localhost:%d" % tls_port
        args = ["--ntp", "127.0.0.1:%d" % ntp.port]
        with SimKiosk(tmp_path / "k", "tls-time", url, args=args) as k:
            k.wait_line(r"^log mqtts waits for a trustworthy time")
            k.press(0)
            k.wait_count("ack", 1)
            ntp.enabled = True
            k.wait_line(r"^log clock synced", timeout=20)
            k.wait_count("sent", 1, timeout=30)
        ntp.enabled = False  # UDP/123 blocked on the site from now on
        with SimKiosk(tmp_path / "k", "tls-time", url, args=args) as k:
            k.press(1)
            k.wait_count("sent", 1, timeout=30)
            assert not any(l.startswith("log clock synced") for _, l in k.lines[k.run_start:])
            assert not any("mqtt connect failed" in l for _, l in k.lines[k.run_start:])
        assert col.wait_seqs("tls-time", [1, 2]) == []
    finally:
        ntp.close()
        col.stop()
        broker.kill()


def test_two_tick_wraps_with_presses_resyncs_status_and_an_outage(tmp_path, broker, collector):
    """The firmware across two wraps of its 30-bit ticks (with 4.6-day jumps of the ticks in
    between, which the loop only sees as time passing): presses, NTP re-syncs every second, a
    broker outage. Every acked tap is delivered once, every status is one the hub accepts, and
    a button left alone for 9 days is not filtered (it was: ticks_diff went negative)."""
    kid = "wrap-1"
    collector.push_config(kid, {"rev": 1, "cooldown_ms": 500, "burst_max": 0,
                                "burst_window_ms": 0})
    ntp = FakeNTP()
    ntp.enabled = True
    statuses = []
    try:
        d = site(tmp_path, "k", ntp_every_s=1)
        with SimKiosk(d, kid, broker.url, args=["--ntp", "127.0.0.1:%d" % ntp.port,
                                                "--ticks-start", str(WRAP - 3000)]) as k:
            k.wait_line(r"^log clock synced", timeout=20)
            k.wait_line(r"^log config rev 1")
            end = time.monotonic() + 20
            while k.stats()["ticks"] > WRAP // 2:  # the first wrap, in real time
                assert time.monotonic() < end
                time.sleep(0.2)
            k.press(0)
            k.wait_count("ack", 1)
            jump = 400000000                       # 4.6 days, below ticks_diff's 6.2
            for step in range(1, 5):               # 18.5 days in all: a second wrap
                since = len(k.lines)
                k.send("ticks +%d" % jump, "wait 1500", "press %d" % (step % 2), "wait 600",
                       "press 2", "status")
                k.wait_line(r"^ack ", since=since, timeout=20)
                if step == 2:
                    broker.stop()
                    for b in range(4):
                        k.send("press %d" % (4 + b), "wait 600")
                    k.wait_count("ack", 1 + 2 * step + 4, timeout=20)
                    broker.start()
                st = collector.wait_status(kid, lambda s: s.get("uptime", 0) >=
                                           step * jump // 1000, timeout=60)
                statuses.append(st)
            ticks = k.stats()["ticks"]
            acks = k.seqs("ack")
            assert k.seqs("filtered") == [], k.tail()
            assert len(acks) == 1 + 2 * 4 + 4 and acks == sorted(set(acks))
            k.wait_count("sent", len(acks), timeout=60)
        assert (WRAP - 3000 + 4 * jump) % WRAP - 60000 < ticks  # two wraps crossed
        assert collector.wait_seqs(kid, acks) == [] and collector.conflicts == []
        assert collector.deliveries >= len(acks)
        for st in statuses:
            v1.decode_status(json.dumps(st))  # the hub's validation accepts every one
            assert st["uptime"] >= 0
        assert all(isinstance(collector.taps[(kid, s)]["ts"], int) for s in acks)
    finally:
        ntp.close()
