"""Wall-clock time for taps: NTP sync, re-sync, and the per-boot offsets that give taps pressed
before the first sync of a boot their true time once it is known.

A tap records either the Unix time (clock known at the press) or the seconds since its boot
started (clock not yet known). `boots` maps a boot number to the Unix time that boot started,
learned at its first sync and kept on flash; a tap of a boot that never synced has ts null.

Uptime is counted in milliseconds carried forward at every call, not as one ticks_diff from
the boot: the RP2040's ticks wrap every 2**30 ms (12.4 days) and a difference is only right up
to 2**29 ms (6.2 days), so one difference from the boot would go negative after 6.2 days. The
kiosk asks every second (its watchdog task), far inside that.
"""
import struct
import time

from net import datagram

NTP_DELTA = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
BOOTS_KEPT = 32


class Clock:
    def __init__(self, boot, boots=None, ticks_ms=time.ticks_ms, ticks_diff=time.ticks_diff):
        self.ticks_ms = ticks_ms
        self.diff = ticks_diff
        self.last = ticks_ms()        # ticks when elapsed was last carried forward
        self.elapsed = 0              # ms since this boot started
        self.boot = boot
        self.base = None              # Unix time when this boot started, once synced
        self.boots = boots if boots is not None else {}
        self.syncs = 0

    def elapsed_ms(self):
        now = self.ticks_ms()
        d = self.diff(now, self.last)
        if d > 0:
            self.elapsed += d
            self.last = now
        return self.elapsed

    def uptime(self):
        return self.elapsed_ms() // 1000

    def now(self):
        if self.base is None:
            return None
        return self.base + self.elapsed_ms() // 1000

    def set(self, unix_time):
        """A fresh time from NTP (or the PC's clock in the sim). True if boots changed."""
        base = int(unix_time) - self.elapsed_ms() // 1000
        changed = self.base is None or abs(base - self.base) > 2
        self.base = base
        self.syncs += 1
        key = str(self.boot & 0xFFFF)  # records keep the boot number in 16 bits
        if changed or key not in self.boots:
            self.boots[key] = base
            while len(self.boots) > BOOTS_KEPT:
                del self.boots[str(min(int(k) for k in self.boots))]
            return True
        return False

    def resolve(self, t, boot, rel):
        """A stored tap time -> Unix seconds or None."""
        if not rel:
            return t
        base = self.boots.get(str(boot))
        return None if base is None else base + t


def ntp_request():
    return b"\x1b" + bytes(47)


def ntp_parse(data):
    if len(data) < 48:
        return None
    secs = struct.unpack_from("!I", data, 40)[0]
    if secs == 0:
        return None
    return secs - NTP_DELTA


async def ntp_time(socket_mod, host, port=123, timeout_ms=2000):
    """One NTP query over a non-blocking UDP socket; the Unix time or None. Waits by polling
    in short sleeps so presses keep flowing (the DNS lookup itself may block on the board)."""
    addr = socket_mod.getaddrinfo(host, port)[0][-1]
    s = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
    try:
        s.setblocking(False)
        s.sendto(ntp_request(), addr)
        return await datagram(s, 64, timeout_ms, ntp_parse)
    finally:
        s.close()
