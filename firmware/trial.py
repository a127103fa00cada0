"""A new firmware version on trial (docs/UPDATES.md): it keeps itself only once it has reached
the broker and a status of its own has been PUBACKed, within trial_s seconds of boot.

The loader (bootsel.py) counted this boot before importing the app and armed the watchdog.
Here: the first PUBACKed status confirms the version (the boot record rewritten with trial
false, one rename); no confirmation in time resets the board, and after the loader's last try
it goes back to the previous version by itself. Imported by app.py only on a trial boot
(~2 KB of RAM).
"""
import asyncio
import sys
import time

import files


class Trial:
    def __init__(self, kiosk, bootsel):
        self.k = kiosk
        self.bs = bootsel
        rec = bootsel.record
        self.limit_ms = rec.get("trial_s", 180) * 1000
        self.confirmed = False
        self.held = None            # an offer that came while on trial (updater.py)
        self.start = time.ticks_ms()
        p = kiosk.update or {}
        # On trial: "switched" (the updater may have been cut off before it could say so).
        if p.get("state") != "switched" or p.get("n") != rec.get("n"):
            self.set(p, "switched")
        kiosk.board.log("on trial: %s, boot %d of %d, %d s to reach the broker"
                        % (rec.get("v"), rec.get("tries", 1), 3,
                           self.limit_ms // 1000))
        asyncio.create_task(self.run())

    def set(self, p, state):
        rec = self.bs.record
        n = rec.get("n", 0)
        q = {"v": rec.get("v"), "n": n, "state": state, "done": p.get("total", 0),
             "total": p.get("total", 0), "reason": None, "acc": max(p.get("acc", 0), n)}
        files.write_json(self.k.data + "/update.json", q)
        self.k.update = q

    def confirm(self):
        """Called once a status of this version has been PUBACKed (app.py heartbeat)."""
        if self.confirmed:
            return
        rec = dict(self.bs.record)
        rec["trial"] = False
        rec.pop("tries", None)
        files.write_json("fw/boot.json", rec)   # one rename: from now on this version is it
        self.bs.record = rec
        self.bs.trial = False
        self.confirmed = True
        self.set(self.k.update or {}, "confirmed")
        self.k.board.log("update %s confirmed" % rec.get("v"))
        self.k.status_due.set()     # the hub hears it at once
        self.k.trial = None         # and this module leaves the heap
        sys.modules.pop("trial", None)
        if self.held is not None:
            import fwgate
            fwgate.route(self.k, self.k.topics["update"], self.held)

    async def run(self):
        while not self.confirmed:
            await asyncio.sleep_ms(1000)
            if not self.confirmed and \
                    time.ticks_diff(time.ticks_ms(), self.start) > self.limit_ms:
                self.k.board.log("on trial: no status within %d s, reset"
                                 % (self.limit_ms // 1000))
                import machine
                machine.reset()
