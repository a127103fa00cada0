"""Unit cases for the firmware modules, run by the MicroPython unix port itself
(tests/test_firmware_units.py). Flash cases use littlefs (vfs.VfsLfs2) on a RAM block device
with the Pico W's geometry. Prints `ok NAME` / `FAIL NAME: why`, then `done N failed`."""
import os

import vfs

from clock import Clock, ntp_parse
from mqtt import connect_packet, parse_url, publish_head
from rules import Debouncer, Rules
import tapq
from tests.support.mp_cases import run_cases
from tapq import QueueFull, TapQueue

BLOCK = 4096


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    """A whole PUBLISH as the kiosk sends it (its head, then the payload written apart)."""
    return publish_head(topic, len(payload), qos, retain, pid, dup) + bytes(payload)


class RamBD:
    def __init__(self, blocks=48):
        self.data = bytearray(b"\xff" * (blocks * BLOCK))
        self.blocks = blocks

    def readblocks(self, n, buf, off=0):
        s = n * BLOCK + off
        buf[:] = self.data[s:s + len(buf)]

    def writeblocks(self, n, buf, off=0):
        s = n * BLOCK + off
        self.data[s:s + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return BLOCK
        if op == 6:
            s = arg * BLOCK
            self.data[s:s + BLOCK] = b"\xff" * BLOCK
        return 0


_n = [0]


def fresh():
    """A new, empty littlefs at a new mount point; returns the queue folder path."""
    _n[0] += 1
    bd = RamBD()
    vfs.VfsLfs2.mkfs(bd, progsize=256)
    at = "/t%d" % _n[0]
    vfs.mount(vfs.VfsLfs2(bd, progsize=256), at)
    return at + "/data"


def ack(q, taps):
    """A receipt covering the oldest queued taps, up to the last of `taps`."""
    if taps:
        for _ in q.settle(lambda s: s <= taps[-1][0]):
            pass


def seqs(q, n=100000):
    return [r[0] for r in q.peek(n)]


def case_queue_survives_reload():
    root = fresh()
    q = TapQueue(root).load()
    for i in range(40):
        assert q.add(1795393090 + i, 1, i % 8, q.name_index("q-1" if i % 2 else None)) == i + 1
    q2 = TapQueue(root).load()
    assert q2.count == 40 and q2.next_seq == 41 and seqs(q2) == list(range(1, 41))
    r = q2.peek(2)[1]
    assert r == (2, 1795393091, 1, 1, 0) and q2.names == ["q-1"], (r, q2.names)


def case_torn_and_damaged_records_are_skipped_and_counted():
    root = fresh()
    q = TapQueue(root).load()
    for i in range(10):
        q.add(100 + i, 1, 0, tapq.NO_NAME)
    hot = root + "/" + q.segs[0][3]
    with open(hot, "rb") as f:
        data = bytearray(f.read())
    data[3 * 16 + 5] ^= 0xFF          # a bit flip inside record 4 (seq 4)
    with open(hot, "wb") as f:
        f.write(data + b"\x01\x02\x03\x04\x05\x06\x07")  # and a torn tail
    q2 = TapQueue(root).load()
    assert seqs(q2) == [1, 2, 3, 5, 6, 7, 8, 9, 10], seqs(q2)
    assert q2.bad == 1 and q2.count == 9
    assert q2.add(0, 2, 0, tapq.NO_NAME) == 11  # the counter moves on, never back


def case_records_of_a_newer_format_version_are_read():
    # A firmware update, then a rollback: the older version reads what the newer one wrote.
    import struct
    from binascii import crc32
    root = fresh()
    q = TapQueue(root).load()
    q.add(100, 1, 4, tapq.NO_NAME)
    b = struct.pack("<IIHBBH", 2, 101, 1, 0x15, 2, tapq.NO_NAME)  # version 2, a flag bit 0x10
    with open(root + "/" + q.segs[0][3], "ab") as f:
        f.write(b + struct.pack("<H", crc32(b) & 0xFFFF))
    q2 = TapQueue(root).load()
    assert seqs(q2) == [1, 2] and q2.bad == 0, (seqs(q2), q2.bad)
    assert q2.peek(2)[1] == (2, 101, 1, 0x15, tapq.NO_NAME)
    assert q2.add(102, 2, 0, tapq.NO_NAME) == 3


def case_seq_never_reused_after_the_queue_empties():
    root = fresh()
    q = TapQueue(root).load()
    for i in range(tapq.HOT_MAX + 3):
        q.add(i, 1, 0, tapq.NO_NAME)
    ack(q, q.peek(1000))
    q.hot = None          # a new boot: the partly filled hot file is done too
    ack(q, q.peek(1000) or [(q.next_seq - 1, 0, 0, 0, 0)])
    assert q.count == 0
    q2 = TapQueue(root).load()
    assert q2.next_seq == tapq.HOT_MAX + 4, q2.next_seq


def case_receipts_settle_the_queue_past_a_torn_record():
    # Taps leave the flash only when a receipt covers them; a torn record (seq 4) never comes,
    # and must stall nothing.
    import protocol
    root = fresh()
    q = TapQueue(root).load()
    for i in range(40):
        q.add(i, 1, 0, tapq.NO_NAME)
    hot = root + "/" + q.segs[0][3]
    with open(hot, "rb") as f:
        data = bytearray(f.read())
    data[3 * 16 + 5] ^= 0xFF          # seq 4 damaged
    with open(hot, "wb") as f:
        f.write(data)
    q = TapQueue(root).load()
    assert q.count == 39 and q.done == 0, (q.count, q.done)
    cover = lambda rc: lambda s: protocol.receipt_covers(rc, s)
    for _ in q.settle(cover((2, [[6, 20]]))):   # 3 and 5 are not committed yet
        pass
    assert q.done == 2 and q.count == 37 and seqs(q)[:3] == [3, 5, 6], (q.done, seqs(q)[:3])
    for _ in q.settle(cover((3, [[5, 30]]))):   # 4 never comes: passed over
        pass
    assert q.done == 30 and q.count == 10 and seqs(q) == list(range(31, 41)), (q.done, q.count)
    assert q.peek(5, after=35)[0][0] == 36
    # Files wholly settled are gone (hot files of HOT_MAX records: 1..24 with 8 a file); after a
    # reload (settled is kept in RAM only) everything below the oldest record on flash counts
    # as settled: what the kiosk tells the hub in "settled". The rest up to 30 is still on
    # flash: the retained receipt covers it again.
    gone = 30 // tapq.HOT_MAX * tapq.HOT_MAX
    q2 = TapQueue(root).load()
    assert (q2.done, q2.count, seqs(q2)[0]) == (gone, 40 - gone, gone + 1), (q2.done, q2.count)
    for _ in q2.settle(cover((40, []))):
        pass
    assert q2.count == 0 and q2.done == 40


def case_merge_packs_hot_files_and_a_cut_merge_is_cleaned_up():
    root = fresh()
    q = TapQueue(root).load()
    n = tapq.HOT_MAX * (tapq.MERGE_AT + 1) + 3
    for i in range(n):
        q.add(i, 1, 0, tapq.NO_NAME)
    assert q.merge_due()
    for _ in q.merge():
        pass
    assert q.segs[0][3].startswith("c/") and seqs(q) == list(range(1, n + 1))
    # A merge cut after the cold file but before the hot files were deleted: copy a hot file
    # back in as a leftover; the next load drops it and nothing is read twice.
    ok = TapQueue(root).load()
    assert seqs(ok) == list(range(1, n + 1))
    with open(root + "/m.tmp", "wb") as f:
        f.write(b"half a merge")
    q3 = TapQueue(root).load()
    assert seqs(q3) == list(range(1, n + 1)) and "m.tmp" not in os.listdir(root)


def case_leftover_hot_file_inside_cold_range_is_dropped():
    root = fresh()
    q = TapQueue(root).load()
    for i in range(tapq.HOT_MAX * tapq.MERGE_AT + 1):
        q.add(i, 1, 0, tapq.NO_NAME)
    first_hot = root + "/" + q.segs[0][3]
    with open(first_hot, "rb") as f:
        saved = f.read()
    for _ in q.merge():
        pass
    with open(first_hot, "wb") as f:  # as if the cut came before this delete
        f.write(saved)
    q2 = TapQueue(root).load()
    assert seqs(q2) == list(range(1, tapq.HOT_MAX * tapq.MERGE_AT + 2))
    assert first_hot.split("/")[-1] not in os.listdir(root)


def case_queue_full_refuses_and_counts():
    root = fresh()
    q = TapQueue(root, max_taps=5).load()
    for i in range(5):
        q.add(i, 1, 0, tapq.NO_NAME)
    try:
        q.add(9, 1, 0, tapq.NO_NAME)
        raise AssertionError("a full queue took a tap")
    except QueueFull:
        pass
    assert q.refused == 1 and q.count == 5
    ack(q, q.peek(2))
    assert q.add(9, 1, 0, tapq.NO_NAME) == 6


def case_rules():
    r = Rules({"cooldown_ms": 1000, "burst_max": 3, "burst_window_ms": 5000})
    got = [r.allow(0, 0), r.allow(0, 500), r.allow(1, 600), r.allow(0, 1000), r.allow(2, 1100),
           r.allow(3, 6100)]
    assert got == [True, False, True, True, False, True], got
    assert r.filtered == 2
    off = Rules({"cooldown_ms": 0, "burst_max": 0, "burst_window_ms": 0})
    assert all(off.allow(0, t) for t in range(100))


PERIOD30 = 1 << 30


def diff30(a, b):
    """time.ticks_diff as on the RP2040 (ticks wrap at 2**30)."""
    return ((a - b + PERIOD30 // 2) & (PERIOD30 - 1)) - PERIOD30 // 2


def case_rules_across_tick_wraps():
    """A button left alone for more than 6.2 days (2**29 ms) is not filtered: on the RP2040 the
    difference goes negative and every press was dropped until the wrap came round."""
    r = Rules({"cooldown_ms": 1000, "burst_max": 3, "burst_window_ms": 5000}, diff30)
    t = PERIOD30 - 60000
    assert r.allow(0, t)
    later = (t + (1 << 29) + 5000) % PERIOD30     # 6.2 days and 5 s later
    assert r.allow(0, later), "filtered after 6.2 days"
    assert not r.allow(0, (later + 10) % PERIOD30)  # the cooldown still works
    # The kiosk's tick() every second forgets presses before their ticks can alias: a press
    # exactly one wrap (12.4 days) after another is not inside its cooldown.
    r2 = Rules({"cooldown_ms": 1000, "burst_max": 2, "burst_window_ms": 5000}, diff30)
    assert r2.allow(1, 100) and r2.allow(2, 200)
    for step in range(1, 30):
        r2.tick((200 + step * 40000000) % PERIOD30)
    assert r2.allow(1, (100 + PERIOD30 + 50) % PERIOD30), "aliased to a recent press"
    assert r2.filtered == 0 and r.filtered == 1


def case_clock_uptime_across_two_tick_wraps():
    """Uptime and now() stay right across two wraps of 30-bit ticks (asked every second on the
    kiosk; here every 10 minutes): they went negative after 6.2 days."""
    ticks = [PERIOD30 - 60000]
    c = Clock(1, {}, lambda: ticks[0], diff30)
    c.set(1800000000)
    step = 600000
    for i in range(1, 26 * 24 * 6):                  # 26 days, crossing 2 wraps
        ticks[0] = (ticks[0] + step) % PERIOD30
        assert c.uptime() == i * step // 1000, (i, c.uptime())
    assert c.now() == 1800000000 + c.uptime()


def case_debouncer_ignores_chatter():
    d = Debouncer(20)
    samples = [(1, 0), (0, 5), (1, 7), (0, 9), (1, 11), (0, 13), (0, 20), (0, 33), (0, 40),
               (1, 60), (0, 62), (1, 64), (1, 90), (0, 200), (0, 230)]
    presses = [t for lvl, t in samples if d.sample(lvl, t)]
    assert presses == [33, 230], presses


def case_mqtt_packets():
    p = connect_packet("k-1", 20, "u", "pw", ("civic/v1/k-1/status", b'{"online": false}', 1,
                                              True))
    assert p[0] == 0x10 and p[1] == len(p) - 2
    assert p[2:10] == b"\x00\x04MQTT\x04" + bytes([0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02])
    big = publish_packet("t", b"x" * 300, 1, False, 7)
    assert big[0] == 0x32 and big[1:3] == bytes([(3 + 2 + 300) & 0x7F | 0x80, 305 >> 7])
    assert parse_url("mqtt://h:1884") == ("h", 1884, False)
    assert parse_url("mqtts://h") == ("h", 8883, True)


def case_clock_reconstructs_times():
    ticks = [10000]
    c = Clock(3, {"2": 1795000000}, lambda: ticks[0])
    assert c.now() is None and c.resolve(42, 2, True) == 1795000042
    assert c.resolve(42, 1, True) is None and c.resolve(1795000001, 1, False) == 1795000001
    ticks[0] += 5000
    assert c.uptime() == 5
    assert c.set(1800000005) is True
    assert c.boots["3"] == 1800000000 and c.resolve(2, 3, True) == 1800000002
    assert ntp_parse(b"\x1c" + bytes(39) + (1800000000 + 2208988800).to_bytes(4, "big")
                     + bytes(4)) == 1800000000


def case_20000_taps_fit_in_400_kb_at_under_0_2_erases_per_tap():
    """The whole littlefs (folders, metadata, names, hot and cold files) on the Pico W's
    geometry, counted in blocks in use, with a 20,000-tap backlog; erases counted by the
    block device."""
    class Counting(RamBD):
        erases = 0

        def ioctl(self, op, arg):
            if op == 6:
                self.erases += 1
            return RamBD.ioctl(self, op, arg)
    bd = Counting(212)
    vfs.VfsLfs2.mkfs(bd, progsize=256)
    vfs.mount(vfs.VfsLfs2(bd, progsize=256), "/big")
    q = TapQueue("/big/data").load()
    n = 20000
    e0 = bd.erases
    for i in range(n):
        q.add(1795393090 + i, 1, i % 8, q.name_index("q-%d" % (i // 5000)))
        if q.merge_due():
            for _ in q.merge():
                pass
    st = os.statvfs("/big")
    used = (st[2] - st[3]) * BLOCK
    assert q.count == n and used <= 400 * 1024, used
    assert (bd.erases - e0) / n <= 0.2, bd.erases
    vfs.umount("/big")


class FakeBoard:
    """A board that records what the kiosk shows, for the press path without any I/O."""

    def __init__(self):
        self.shown = []

    def __getattr__(self, name):
        def record(*args):
            self.shown.append((name,) + args)
        return record

    def rssi(self):
        return None


def case_press_path_and_watchdog_health():
    import time
    from app import ALIVE_MS, Kiosk
    root = fresh()
    b = FakeBoard()
    k = Kiosk(b, {"id": "unit-1", "broker": "mqtt://127.0.0.1:1"}, root)
    assert k.boot == 1 and k.press(0, 0) == 1 and k.press(0, 10) is None  # cooldown
    assert k.press(5, 20) == 2 and k.press(9) is None
    assert ("confirm", 1) in b.shown and ("filtered", 0) in b.shown
    taps = [k.sender.tap_dict(r) for r in k.q.peek(10)]
    assert [(t["kind"], t["value"]) for t in taps] == [("mood", 1), ("skill", "eservices")]
    now = time.ticks_ms()
    k.alive = {"sender": now, "link": now}
    assert k.healthy(now)
    k.alive["link"] = time.ticks_add(now, -(ALIVE_MS + 1))
    assert not k.healthy(now)
    assert Kiosk(b, {"id": "unit-1", "broker": "mqtt://127.0.0.1:1"}, root).boot == 2


def case_reconnect_backoff_has_jitter():
    from app import jittered
    waits = [jittered(8000) for _ in range(200)]
    assert min(waits) >= 4000 and max(waits) <= 8000, (min(waits), max(waits))
    assert len(set(waits)) > 50  # spread out: kiosks do not reconnect in step


def main():
    run_cases(globals())


main()
