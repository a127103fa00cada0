"""Press hygiene: debouncing (board side) and the misuse rules (docs/PROTOCOL.md).

Misuse rules: a press of a button within `cooldown_ms` of that button's last ACCEPTED press is
dropped, and so is any press beyond `burst_max` accepted presses in the last `burst_window_ms`;
0 turns a rule off. Every drop is counted in `filtered` (reported in status), never silent.

Ticks wrap: on the RP2040 `time.ticks_ms()` wraps every 2**30 ms (12.4 days), so
`ticks_diff` only tells apart times less than 2**29 ms (6.2 days) apart (extmod/modtime.c
masks with MICROPY_PY_TIME_TICKS_PERIOD, 2**30 on rp2). A press remembered longer than that
would look like one in the future (negative difference) or, a wrap later, a recent one. So a
remembered press is forgotten as soon as no rule needs it (`tick()`, called every second by
the kiosk), and a negative difference always means "long ago".
"""
import time

BUTTONS = 8
BURST_CAP = 1024  # the burst list never holds more than this many ticks (RAM bound)
TICK_MARGIN_MS = 600000  # 10 min: far longer than a press waits in the latch (the WDT is 8 s)


class Rules:
    def __init__(self, cfg, ticks_diff=time.ticks_diff):
        self.diff = ticks_diff
        self.last = [None] * BUTTONS   # ticks of each button's last accepted press
        self.recent = []               # ticks of accepted presses inside the burst window
        self.filtered = 0
        self.cooldown = self.burst_max = self.window = 0
        self.apply(cfg)

    def apply(self, cfg):
        self.cooldown = cfg.get("cooldown_ms", 0)
        self.burst_max = min(cfg.get("burst_max", 0), BURST_CAP)
        self.window = cfg.get("burst_window_ms", 0)

    def allow(self, btn, now):
        """True if the press at ticks `now` counts; False (and counted) if a rule drops it."""
        last = self.last[btn]
        if self.cooldown and last is not None and 0 <= self.diff(now, last) < self.cooldown:
            self.filtered += 1
            return False
        if self.burst_max and self.window:
            r = self.recent
            while r and not 0 <= self.diff(now, r[0]) < self.window:
                r.pop(0)
            if len(r) >= self.burst_max:
                self.filtered += 1
                return False
            r.append(now)
        self.last[btn] = now
        return True

    def tick(self, now):
        """Forget presses no rule needs any more, long before their ticks could wrap. With a
        margin: a press latched during a blocked loop (presses.py) reaches allow() later with
        its own, earlier, ticks, and must still meet the presses it followed."""
        keep = TICK_MARGIN_MS
        for b in range(BUTTONS):
            last = self.last[b]
            if last is not None and not 0 <= self.diff(now, last) < self.cooldown + keep:
                self.last[b] = None
        r = self.recent
        while r and not 0 <= self.diff(now, r[0]) < self.window + keep:
            r.pop(0)


class Debouncer:
    """One button on a pin with a pull-up (pressed = 0): a press is reported once the level
    has been low for `stable_ms`, and the next only after it has been high for `stable_ms`,
    so contact chatter of a few milliseconds never makes two taps."""

    def __init__(self, stable_ms=20, ticks_diff=time.ticks_diff):
        self.stable = stable_ms
        self.diff = ticks_diff
        self.state = 1      # debounced level
        self.level = 1      # last raw level seen
        self.since = None   # ticks when the raw level last changed

    def sample(self, level, now):
        """Feed a raw sample; True exactly once per debounced press."""
        if level != self.level:
            self.level = level
            self.since = now
            return False
        if level != self.state and self.since is not None and \
                self.diff(now, self.since) >= self.stable:
            self.state = level
            return level == 0
        return False
