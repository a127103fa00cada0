"""The kiosk's side of a firmware update: check an offer, fetch its files into the app folder
that is not running, verify them, and switch with one rename (docs/UPDATES.md; the messages
in docs/PROTOCOL.md "Firmware updates").

Loaded by fwgate.py only for an offer it has not handled yet, and dropped when the update
ends. Its RAM while it runs (build mode on the sim, measured): this module and
protocol/fwcore.py ~9 KB, the offer ~3 KB, a 512-byte hash buffer, one chunk in hand (~5 KB
while it is decoded). Few names on purpose: each is an interned string (fwcore.py).

What lets a download resume lives on flash: data/update.json (`acc`, the offer number taken,
and the state) and the staged files, whose sizes say where to go on. A power cut anywhere
leaves the old version running with a download to resume, or (after the boot record's rename)
the new version on trial (bootsel.py, trial.py).
"""
import asyncio
import binascii
import hashlib
import os
import sys
import time

import files
from fwversion import VERSION as FW
from protocol import ProtocolError
from protocol import fwcore

# A fetch unanswered 3 s is asked again, the wait doubling to 30 s. Pieces of 512 bytes by
# default (settings update_chunk; the offer caps it): a 1 KB piece needs ~6 KB of heap while
# its message is decoded, and under `--heap 128K` the heap has few such holes. 20 ms between
# pieces, and at most 2 s of waiting for the sender to empty: presses and taps go first.
# 3 fetches of a file whose SHA-256 stays wrong, then failed. 24 blocks left free after the
# staged release (the queue keeps ~1,500 taps of room beside its own reserve). Written as
# numbers where they are used, not as names: see the docstring.


def _wipe(path):
    """A folder and everything in it (a stale or abandoned staging slot)."""
    try:
        for e in list(os.ilistdir(path)):
            if e[1] == 0x4000:
                _wipe(path + "/" + e[0])
            else:
                os.remove(path + "/" + e[0])
        os.rmdir(path)
    except OSError:
        pass


class Updater:
    def __init__(self, k):
        self.k = k
        try:
            self.key = binascii.unhexlify(k.settings.get("update_key") or "") or None
        except ValueError:
            self.key = None
        rec = getattr(sys.modules.get("bootsel"), "record", None)
        self.slot = rec.get("slot", "") if rec else ""   # running ("": the factory install)
        self.offer = None
        self.task = None
        self.pending = None       # (file index, offset) of the one fetch outstanding
        self.chunk = None         # the chunk that answered it
        self.wake = asyncio.Event()
        self.buf = bytearray(512)  # SHA-256 reads, taken once
        self.done = 0

    def report(self, offer, state, reason=None, acc=None):
        """New progress: in a status at once, and on flash unless it is the refusal of an
        offer never taken (nothing a later boot needs)."""
        p = self.k.update or {}
        size = 0
        for f in offer["files"]:
            size += f[1]
        p = {"v": offer["v"], "n": offer["n"], "state": state, "done": self.done,
             "total": size, "reason": reason, "acc": p.get("acc", 0) if acc is None else acc}
        self.k.update = p
        if acc is not None or state != "failed":
            files.write_json(self.k.data + "/update.json", p)
        self.k.board.log("update %s %s %s" % (offer["v"], state, reason or ""))
        self.k.status_due.set()

    # ---- messages (the MQTT reader calls these: nothing waits here) -----------------------
    def on_message(self, topic, payload):
        k = self.k
        if topic == k.topics["chunk"]:
            try:
                c = fwcore.decode_chunk(payload)
            except ProtocolError as e:
                k.board.log("update chunk refused: %s" % e)
                return
            if self.offer and c["v"] == self.offer["v"] and \
                    ("error" in c or (c["f"], c["off"]) == self.pending):
                self.chunk = c
                self.wake.set()
            return
        if k.trial is not None and not k.trial.confirmed:
            k.trial.held = payload   # a version on trial takes no offer until it is confirmed
        else:
            self.on_offer(payload)
        if self.task is None:
            self.end()

    def end(self):
        """Nothing left to do (refused, failed): this code leaves the heap."""
        self.task = None
        self.k.fwu = None
        sys.modules.pop("updater", None)
        sys.modules.pop("protocol.fwcore", None)
        try:
            delattr(sys.modules["protocol"], "fwcore")
        except (AttributeError, KeyError, TypeError):
            pass

    def on_offer(self, payload):
        k = self.k
        try:
            offer = fwcore.decode_offer(payload)
        except ProtocolError as e:
            k.board.log("update offer refused: %s" % e)
            return
        if offer is None:  # withdrawn: stop; a new offer starts afresh
            if self.task is not None:
                self.task.cancel()
                self.task = None
                self.report(self.offer, "failed", "withdrawn", self.offer["n"])
            return
        # Authentic first, before anything in it is believed (docs/UPDATES.md).
        if self.key is None or not fwcore.check_mac(k.kid, offer, self.key):
            self.report(offer, "failed", "mac: not authentic" if self.key else
                        "mac: this kiosk has no update key")
            return
        p = k.update or {}
        acc = p.get("acc", 0)
        if offer["n"] < acc:
            self.report(offer, "failed", "n: %d not above %d (a replayed offer)"
                        % (offer["n"], acc))
            return
        if offer["n"] == acc:
            # The retained offer again (a reconnect, a boot): go on if it was under way.
            if p.get("state") in ("downloading", "verified", "switched") and \
                    p.get("v") == offer["v"] != FW and self.task is None:
                self.offer = offer
                self.task = asyncio.create_task(self.run(offer, False))
            return
        if self.task is not None:
            self.task.cancel()  # a newer offer replaces one under way
            self.task = None
        self.done = 0
        if offer["v"] == FW:
            self.report(offer, "confirmed", None, offer["n"])   # it runs that already
            return
        m = sys.implementation._mpy  # .mpy major in bits 0-7, sub-version in 8-9
        why = fwcore.cannot_run(offer, (m & 0xFF, m >> 8 & 3), sys.implementation.version)
        if why is None:
            # Room for the release and then some: the queue must never run short of room.
            n = 2
            for f in offer["files"]:
                n += (f[1] + 4095) // 4096 or 1
            m = os.statvfs(".")[3]
            if m - n < 24:
                why = "flash: needs %d blocks and 24 spare, %d free" % (n, m)
        if why:
            self.report(offer, "failed", why, offer["n"])
            return
        self.offer = offer
        self.task = asyncio.create_task(self.run(offer, True))

    # ---- the download: one task, one fetch outstanding, then the switch -------------------
    async def run(self, offer, wipe):
        while True:
            try:
                await self.steps(offer, wipe)
                return
            except Exception as e:
                # Out of heap, a flash error: the update waits and goes on from where its
                # files stand (never a crash: taps come first).
                self.k.board.log("update: %r, going on in 10 s" % (e,))
                wipe = False
                self.done = 0
                await asyncio.sleep_ms(10000)

    async def steps(self, offer, wipe):
        k = self.k
        slot = "b" if self.slot == "a" else "a"
        folder = "fw/" + slot
        if wipe:
            # The slot's old content goes first (an abandoned download, the version before
            # last), then the offer is taken on flash: a cut between wipes it again.
            _wipe(folder)
        self.report(offer, "downloading", None, offer["n"])
        files.makedirs(folder)
        for i in range(len(offer["files"])):
            path, size, sha = offer["files"][i]
            full = folder + "/" + path
            if "/" in path:
                files.makedirs(full[:full.rfind("/")])
            tries = 0
            while True:
                try:
                    have = os.stat(full)[6]
                except OSError:
                    have = size + 1
                if have > size:
                    open(full, "wb").close()
                    have = 0
                self.done += have
                while have < size:
                    n = await self.fetch(offer, i, have, min(
                        k.settings.get("update_chunk", 512), offer["chunk_max"], size - have))
                    if n is None:
                        return
                    with open(full, "ab") as f:   # closed = committed: resumable from here
                        f.write(n)
                    have += len(n)
                    self.done += len(n)
                    k.update["done"] = self.done   # the next status says how far
                    n = None
                    await asyncio.sleep_ms(20)
                if self.sha256(full) == sha:
                    break
                tries += 1
                self.done -= size
                os.remove(full)
                if tries >= 3:
                    self.report(offer, "failed", "sha256: " + path, offer["n"])
                    self.end()
                    return
                k.board.log("update: %s does not match its sha256, fetched again" % path)
        self.report(offer, "verified")
        # The switch: the new boot record (bootsel.py reads it) with ONE rename; the next boot
        # tries the new version (the loader counts its tries, trial.py confirms it). Written
        # here, not through bootsel: the factory install has not loaded the loader. A crash
        # file now is an old one (reported at connect): moved aside, so a crash file after the
        # switch is the new version's, the reason a rollback gives.
        if files.exists(k.data + "/crash.txt"):
            os.rename(k.data + "/crash.txt", k.data + "/crash.old")
        self.report(offer, "switched")
        files.write_json("fw/boot.json", {
            "slot": slot, "v": offer["v"], "n": offer["n"], "prev": self.slot, "prev_v": FW,
            "trial": True, "tries": 0, "trial_s": k.settings.get("trial_s", 180)})
        try:
            await k.mqtt.publish(k.topics["status"], k.status(), 1, True, 3000)
        except Exception:
            pass  # the new version reports it anyway
        k.board.log("update: reset into %s on trial" % offer["v"])
        import machine
        machine.reset()

    def sha256(self, path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                n = f.readinto(self.buf)
                if not n:
                    break
                h.update(memoryview(self.buf)[:n])
        return binascii.hexlify(h.digest()).decode()

    async def fetch(self, offer, i, off, n):
        """Piece n bytes of file i at off -> its bytes, or None (the update failed)."""
        k = self.k
        req = fwcore.encode_fetch(offer["v"], offer["n"], i, off, n)
        wait = 3000
        while True:
            t0 = time.ticks_ms()
            while True:
                # Connected, and taps first: the sender has nothing to send, or has had 2 s.
                m = k.mqtt
                if m and m.connected and (k.sender.unsent() <= 0 or
                                          time.ticks_diff(time.ticks_ms(), t0) > 2000):
                    break
                await asyncio.sleep_ms(50)
            self.pending = (i, off)
            self.chunk = None
            self.wake.clear()
            try:
                await m.publish(k.topics["fetch"], req, 0)
                await asyncio.wait_for_ms(self.wake.wait(), wait)
            except Exception:
                # Silence or a lost connection: ask again, waiting longer each time (a hub
                # that is down is not flooded).
                wait = min(wait * 2, 30000)
                continue
            c = self.chunk
            self.pending = self.chunk = None
            if "error" in c:
                self.report(offer, "failed", "hub: " + c["error"], offer["n"])
                self.end()
                return None
            return c["data"][:n]
