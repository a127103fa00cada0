"""Firmware updates over the air, on the real firmware under MicroPython and a real Mosquitto
(docs/UPDATES.md). The kiosk runs the current firmware compiled as a factory build (`--build`,
what a Pico W runs) under `--heap 128K`; tests/support/fw_release.py stands in for the hub:
it compiles a release of another version and offers it, signed with the kiosk's key."""
import json
import random
import time

import pytest

from protocol import updates
from tests.support import fw_release as fr
from tests.support.collector import OPEN_RULES
from tests.support.kiosk import SimKiosk, install_into_image

OLD = "1.0.0"
NEW = "1.1.0"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("releases")


def kiosk(tmp_path, kid, broker, work, settings=None, heap="160K", timing="off"):
    """A kiosk with the factory build, the test update key and settings.json on its flash
    (the flash chip's times off unless a test needs them: the PC's speed)."""
    site = tmp_path / ("site-" + kid)
    site.mkdir()
    s = {"trial_s": 20}
    s.update(settings or {})
    (site / "settings.json").write_text(json.dumps(s))
    install_into_image(str(tmp_path / kid), str(site))
    return SimKiosk(tmp_path / kid, kid, broker.url, heap=heap,
                    args=["--build", fr.factory_build(work), "--update-key", fr.KEY_HEX,
                          "--flash-timing", timing])


def state(collector, kid, want, timeout=60):
    return collector.wait_status(kid, lambda s: (s.get("update") or {}).get("state") == want,
                                 timeout)


def fw_lines(k):
    return [t for _, t in k.lines if t.startswith("fw ")]


def test_update_while_being_tapped_counts_every_tap_once(tmp_path, broker, collector, work):
    kid = "upd-tap-1"
    collector.push_config(kid, OPEN_RULES)
    rel = fr.make_release(work, NEW)
    k = kiosk(tmp_path, kid, broker, work).start()
    srv = None
    try:
        k.wait_line(r"^log config rev 1")
        srv = fr.ReleaseServer(broker.port, kid, rel, 1).start()
        pressed = 0
        end = time.monotonic() + 90
        # Tapped every 100 ms through the download, the switch and the trial.
        while not any(t == "log update %s confirmed" % NEW for _, t in k.lines):
            assert time.monotonic() < end, "\n".join(
                t for _, t in k.lines if not t.startswith(("ack", "sent")))
            k.press(pressed % 8)
            pressed += 1
            time.sleep(0.1)
        st = state(collector, kid, "confirmed")
        assert st["fw"] == NEW and st["update"]["done"] == st["update"]["total"] == rel.size
        for i in range(10):
            k.press(i % 8)
        acked = k.seqs("ack", all_runs=True)
        k.wait_count("ack", len(k.seqs("ack")) + 0)
        assert fw_lines(k) == ["fw " + OLD, "fw " + NEW], fw_lines(k)
        assert len(acked) == len(set(acked)) and len(acked) >= pressed // 2, (len(acked), pressed)
        assert collector.wait_seqs(kid, acked, timeout=30) == []
        assert collector.conflicts == []
        # Both versions served the taps: the download never held a press up for long.
        assert len(srv.served()) == sum((f[1] + 511) // 512 for f in rel.files)
    finally:
        k.kill()
        if srv:
            srv.stop()


def test_power_cuts_during_download_verification_and_switch(tmp_path, broker, collector, work):
    """30 kill -9 at random moments while the kiosk downloads, verifies, switches and tries the
    new version: it always boots the old or the new version, and loses no tap."""
    kid = "upd-cut-1"
    collector.push_config(kid, OPEN_RULES)
    rel = fr.make_release(work, NEW)
    rnd = random.Random(20261130)
    # The W25Q16JV's erase and program times: a download of some seconds, as on a board.
    k = kiosk(tmp_path, kid, broker, work, timing="on")
    # Chunks 30 ms after each fetch, as over Wi-Fi: a download of ~8 s, cut several times.
    srv = fr.ReleaseServer(broker.port, kid, rel, 1, delay=0.03).start()
    pieces = sum((f[1] + 511) // 512 for f in rel.files)
    acked = []
    phases = []            # what each cut interrupted: the last update line of its run
    switch_cuts = 0
    cuts_on_trial = 0
    try:
        for cut in range(30):
            since = len(k.lines)
            k.start()
            for _ in range(rnd.randint(0, 3)):
                k.send("press %d" % rnd.randrange(8))
            new_seen = any(t == "fw " + NEW for _, t in k.lines)
            if cut % 7 == 0:
                time.sleep(rnd.uniform(0.0, 0.5))   # during the boot and the loader
            elif len(srv.served()) >= pieces - 3 and not new_seen:
                # At the switch: verified, the crash file, the progress, the record's rename,
                # the status, the reset (a few ms in all). Unless the last cut came after the
                # rename: then this boot is the new version's.
                if k.wait_line(r"^(log update %s verified|fw %s$)" % (NEW, NEW),
                               timeout=60) != "fw " + NEW:
                    switch_cuts += 1
                time.sleep(rnd.uniform(0.0, 0.01))
            else:
                # Downloading (cut before the last pieces: the next cycles take the switch),
                # or the new version working.
                k.wait_line(r"^log mqtt connected", timeout=30)
                end = time.monotonic() + rnd.uniform(0.0, 1.5)
                while time.monotonic() < end and (new_seen or len(srv.served()) < pieces - 3):
                    time.sleep(0.01)
            run = [t for _, t in k.lines[since:]]
            if any(t.startswith("log on trial") for t in run) and \
                    not any(t.endswith(" confirmed") for t in run):
                # A cut on trial uses up one of its 3 tries: one such cut, not three in a row.
                cuts_on_trial += 1
                if cuts_on_trial > 1:
                    k.wait_line(r"^log update %s confirmed" % NEW, timeout=30)
            k.kill()
            acked += k.seqs("ack")
            news = [t for t in run if t.startswith(("log update", "log loader", "log on trial"))]
            phases.append(news[-1] if news else "boot")
            # Each boot says which version it runs: the old one or the new one, nothing else.
            assert [t for t in run if t.startswith("fw ")] in ([], ["fw " + OLD], ["fw " + NEW],
                                                               ["fw " + OLD, "fw " + NEW]), run
        assert len(acked) == len(set(acked)), "a seq was acked twice"
        assert sum(p.endswith("downloading ") for p in phases) >= 3, phases
        assert switch_cuts >= 1, phases
        k.start()
        k.wait_line(r"^log mqtt connected", timeout=30)
        state(collector, kid, "confirmed", timeout=60)
        assert collector.status[kid]["fw"] == NEW
        assert {t for t in fw_lines(k)} == {"fw " + OLD, "fw " + NEW}
        assert collector.wait_seqs(kid, acked, timeout=60) == []
        assert collector.conflicts == []
        # Resumed, not started again: the download took little more than one copy.
        assert len(srv.served()) < 1.5 * sum((f[1] + 511) // 512 for f in rel.files)
    finally:
        k.kill()
        srv.stop()


def test_a_release_that_fails_at_import_rolls_back_by_itself(tmp_path, broker, collector,
                                                             work):
    kid = "upd-bad-1"
    rel = fr.make_release(work, "1.2.0-bad", 'raise RuntimeError("release 1.2.0 is broken")')
    k = kiosk(tmp_path, kid, broker, work).start()
    srv = None
    try:
        k.wait_line(r"^log mqtt connected")
        srv = fr.ReleaseServer(broker.port, kid, rel, 1).start()
        k.wait_line(r"^log loader: 1.2.0-bad rolled back to %s" % OLD, timeout=90)
        st = state(collector, kid, "rolled_back")
        assert st["fw"] == OLD
        assert st["update"]["v"] == "1.2.0-bad"
        assert st["update"]["reason"] == "RuntimeError: release 1.2.0 is broken"
        assert "release 1.2.0 is broken" in st["crash"]
        tries = [t for _, t in k.lines if t.startswith("log crash at import")]
        assert len(tries) == 3, k.tail()
        # Every boot names its version, the three that failed at import included.
        assert fw_lines(k) == ["fw " + OLD] + ["fw 1.2.0-bad"] * 3 + ["fw " + OLD], k.tail()
        # The old version goes on: a press is acked and delivered.
        k.press(2)
        seq = k.wait_count("ack", 1)[-1]
        assert collector.wait_seqs(kid, [seq]) == []
    finally:
        k.kill()
        if srv:
            srv.stop()


def test_a_tampered_chunk_is_fetched_again_and_one_that_stays_bad_fails(tmp_path, broker,
                                                                        collector, work):
    kid = "upd-chunk-1"
    rel = fr.make_release(work, NEW)
    app = [f[0] for f in rel.files].index("app.mpy")
    bad = {"left": 1}

    def once(f, off, data):   # the first piece of app.mpy flipped, once
        if f == app and off == 0 and bad["left"]:
            bad["left"] -= 1
            return bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    k = kiosk(tmp_path, kid, broker, work).start()
    srv = None
    try:
        k.wait_line(r"^log mqtt connected")
        srv = fr.ReleaseServer(broker.port, kid, rel, 1, tamper=once).start()
        k.wait_line(r"^log update: app.mpy does not match its sha256, fetched again", timeout=60)
        state(collector, kid, "confirmed", timeout=90)
        assert [f for f in srv.served() if f[0] == app and f[1] == 0] == [(app, 0, 512)] * 2
        srv.stop()
        # A piece that stays bad: three tries, then failed, and the kiosk keeps its version.
        rel2 = fr.make_release(work, "1.3.0")
        srv = fr.ReleaseServer(broker.port, kid, rel2, 2,
                               tamper=lambda f, off, data: data[:-1] + b"\0").start()
        st = state(collector, kid, "failed", timeout=90)
        assert st["update"]["reason"] == "sha256: " + rel2.files[0][0], st["update"]
        assert st["fw"] == NEW
        assert fw_lines(k) == ["fw " + OLD, "fw " + NEW]
    finally:
        k.kill()
        if srv:
            srv.stop()
    assert not [p for p in fr.flash_files(tmp_path / kid) if p.startswith("fw/b/")]


def test_offers_refused_before_anything_is_fetched(tmp_path, broker, collector, work):
    """A tampered manifest (MAC), a runtime the release cannot run (mpy, MicroPython) and a
    replayed older offer are all refused before a single fetch or write to an app folder."""
    kid = "upd-refuse-1"
    rel = fr.make_release(work, NEW)
    k = kiosk(tmp_path, kid, broker, work).start()
    srv = None
    try:
        k.wait_line(r"^log mqtt connected")
        srv = fr.ReleaseServer(broker.port, kid, rel, 7)
        forged = srv.signed_offer()
        forged["files"] = [list(f) for f in forged["files"]]
        forged["files"][0][2] = "0" * 64          # a file swapped, the MAC left as it was
        srv.start(updates.encode_offer(forged))
        st = state(collector, kid, "failed")
        assert st["update"] == dict(st["update"], n=7, reason="mac: not authentic")

        def offer(n, **change):
            o = dict(rel.offer(n), **change)
            srv.publish_offer(updates.encode_offer(updates.sign_offer(kid, o, fr.KEY)))
            try:
                return collector.wait_status(kid, lambda s: (s.get("update") or {}).get("n") == n)
            except AssertionError:
                raise AssertionError(k.tail())

        # The forged n=7 was never taken: n=1 is still new.
        assert offer(1, mpy="7.0")["update"]["reason"] == "mpy: needs 7.0, runs 6.3"
        assert offer(2, min_mp="9.0.0")["update"]["reason"].startswith(
            "micropython: needs 9.0.0, runs 1.")
        replay = offer(1)["update"]
        assert (replay["state"], replay["reason"]) == \
            ("failed", "n: 1 not above 2 (a replayed offer)")
        assert srv.served() == [] and srv.refused == []
        assert k.proc.poll() is None and fw_lines(k) == ["fw " + OLD]
    finally:
        k.kill()
        if srv:
            srv.stop()
    assert not [p for p in fr.flash_files(tmp_path / kid) if p.startswith("fw/")]


def test_the_sim_takes_the_update_key_from_the_option_or_the_environment(tmp_path):
    import os
    import subprocess
    from tests.support.procs import BIN
    cmd = [os.path.join(BIN, "civic"), "kiosk", "sim", "--dir", str(tmp_path / "k"), "--id",
           "k-1", "--broker", "mqtt://127.0.0.1:1"]
    env = dict(os.environ, CIVIC_UPDATE_KEY="not-hex")
    for args, env in ((["--update-key", "abc"], None), ([], env)):
        r = subprocess.run(cmd + args, capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode != 0 and "--update-key must be hex" in r.stderr, (r.stdout, r.stderr)


def test_a_second_update_goes_to_the_other_folder_and_keeps_the_queue(tmp_path, broker,
                                                                     collector, work):
    kid = "upd-twice-1"
    collector.push_config(kid, OPEN_RULES)
    k = kiosk(tmp_path, kid, broker, work).start()
    srv = None
    try:
        k.wait_line(r"^log config rev 1")
        broker.stop()                       # taps queued on flash across both updates
        for i in range(20):
            k.press(i % 8)
        queued = k.wait_count("ack", 20)
        broker.start()
        srv = fr.ReleaseServer(broker.port, kid, fr.make_release(work, NEW), 1).start()
        state(collector, kid, "confirmed", timeout=90)
        srv.stop(withdraw=False)
        srv = fr.ReleaseServer(broker.port, kid, fr.make_release(work, "1.2.0"), 2).start()
        k.wait_line(r"^fw 1.2.0", timeout=90)
        st = collector.wait_status(kid, lambda s: s.get("fw") == "1.2.0" and
                                   (s.get("update") or {}).get("state") == "confirmed")
        assert st["update"]["n"] == 2
        k.press(3)
        last = k.wait_count("ack", 21)[-1]
        assert last == max(queued) + 1   # one seq counter through every version
        assert collector.wait_seqs(kid, queued + [last]) == []
        assert fw_lines(k) == ["fw " + OLD, "fw " + NEW, "fw 1.2.0"]
    finally:
        k.kill()
        if srv:
            srv.stop()
    files = fr.flash_files(tmp_path / kid)
    assert "fw/a/app.mpy" in files and "fw/b/app.mpy" in files


def test_a_version_that_never_reaches_the_broker_rolls_back(tmp_path, broker, collector,
                                                            work):
    """The new version must publish a status within trial_s: here the broker is down from
    the switch on, so each of its 3 trial boots resets, and the old version comes back."""
    kid = "upd-silent-1"
    k = kiosk(tmp_path, kid, broker, work, settings={"trial_s": 3}).start()
    srv = None
    try:
        k.wait_line(r"^log mqtt connected")
        srv = fr.ReleaseServer(broker.port, kid, fr.make_release(work, NEW), 1).start()
        k.wait_line(r"^log update %s verified" % NEW, timeout=60)
        broker.stop()
        k.wait_line(r"^log loader: %s rolled back to %s: no status within 3s" % (NEW, OLD),
                    timeout=60)
        assert [t for _, t in k.lines if t.startswith("log on trial: no status")] == \
            ["log on trial: no status within 3 s, reset"] * 3
        broker.start()
        st = state(collector, kid, "rolled_back", timeout=60)
        assert (st["fw"], st["update"]["v"], st["update"]["reason"]) == \
            (OLD, NEW, "no status within 3s")
        assert fw_lines(k) == ["fw " + OLD] + ["fw " + NEW] * 3 + ["fw " + OLD]
    finally:
        k.kill()
        if srv:
            srv.stop()
