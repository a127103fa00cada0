"""Press hygiene: debouncing (board side) and the misuse rules (docs/PROTOCOL.md).

Misuse rules: a press of a button within `cooldown_ms` of that button's last ACCEPTED press is
dropped, and so is any press beyond `burst_max` accepted presses in the last `burst_window_ms`;
0 turns a rule off. Every drop is counted in `filtered` (reported in status), never silent.
"""
import time

BUTTONS = 8
BURST_CAP = 1024  # the burst list never holds more than this many ticks (RAM bound)


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
        if self.cooldown and last is not None and self.diff(now, last) < self.cooldown:
            self.filtered += 1
            return False
        if self.burst_max and self.window:
            r = self.recent
            while r and self.diff(now, r[0]) >= self.window:
                r.pop(0)
            if len(r) >= self.burst_max:
                self.filtered += 1
                return False
            r.append(now)
        self.last[btn] = now
        return True


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
