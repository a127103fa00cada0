"""Presses latched by interrupt, with the tick time of the press.

The loop that confirms a press is also the loop that erases flash (a 4 KiB sector erase runs
with interrupts of the flash XIP off and the CPU stalled: 45 ms typically, up to 400 ms) and
does the TLS handshake (1 to 3 s of mbedtls arithmetic). A button that is only polled between
those is seen late, or not at all when it was pressed and released meanwhile. So the press is
caught where it happens: a pin interrupt (the sim: its stdin thread) writes (button, ticks)
into a ring allocated once, and the loop drains it as soon as it is free. The press keeps its
own time for the misuse rules and the tap, and it is never lost (a full ring counts `lost`).

The handler runs in hard-IRQ context on the Pico W: it allocates nothing (preallocated arrays,
small ints only, bound methods taken once at start).
"""
import time

SLOTS = 32          # presses waiting for the loop; 8 buttons pressed 4 times each
STABLE_MS = 20      # released this long before a falling edge counts (contact chatter)


class Latch:
    def __init__(self, buttons=8, slots=SLOTS, ticks_ms=time.ticks_ms,
                 ticks_diff=time.ticks_diff):
        self.slots = slots
        self.btn = bytearray(slots)
        self.at = [0] * slots                # a list slot takes a small int with no allocation
        self.head = 0                       # moved by the interrupt only
        self.tail = 0                       # moved by the loop only
        self.lost = 0
        self.ticks_ms = ticks_ms
        self.diff = ticks_diff
        # last release edge per button, and whether it has had no edge yet since boot
        self.rise = [ticks_ms()] * buttons
        self.fresh = bytearray(b"\x01" * buttons)

    def edge(self, btn, now):
        """A debounced press of `btn` at ticks `now` (interrupt context: no allocation)."""
        nxt = (self.head + 1) % self.slots
        if nxt == self.tail:
            self.lost += 1
            return
        self.btn[self.head] = btn
        self.at[self.head] = now
        self.head = nxt

    def pin(self, btn, level, now):
        """A pin edge (pull-up: 0 = pressed), debounced in the interrupt itself: a falling
        edge counts only after the button was released for STABLE_MS, so the chatter of a
        press or of a release never makes a second tap. A release longer ago than ticks_diff
        can tell (6.2 days on the RP2040) shows as a negative difference: long ago, counts."""
        if level:
            self.rise[btn] = now
            return
        d = self.diff(now, self.rise[btn])
        if 0 <= d < STABLE_MS and not self.fresh[btn]:
            return
        self.fresh[btn] = 0
        self.rise[btn] = now  # a second falling edge without a release in between: chatter
        self.edge(btn, now)

    def pending(self):
        return self.head != self.tail

    def full(self):
        return (self.head + 1) % self.slots == self.tail

    def drain(self, press, most=SLOTS):
        """Hand up to `most` latched presses to press(btn, ticks), oldest first."""
        n = 0
        while self.tail != self.head and n < most:
            i = self.tail
            btn, at = self.btn[i], self.at[i]
            self.tail = (i + 1) % self.slots
            press(btn, at)
            n += 1
        return n
