"""The stable loader: which firmware version runs at power-on (firmware/README.md "Updates").

It lives at the flash root beside main.py, belongs to the factory install and is never part
of a release (protocol.updates.LOADER_FILES), so no update can break the way back. It uses
nothing but builtins: every other module belongs to one version.

Boot record `fw/boot.json` (absent: the factory install at the root runs):
    {"slot": "a", "v": "1.1.0", "n": 3, "prev": "", "prev_v": "1.0.0",
     "trial": true, "tries": 1, "trial_s": 180}
`slot` is the app folder fw/<slot> ("" = the factory install), `prev`/`prev_v` what ran before.
A record is only ever replaced whole: written to fw/boot.json.tmp, then renamed over it
(littlefs renames atomically: lfs_rename replaces the destination in one metadata commit), so
a power cut leaves the old record or the new one, never half of either.

A version on trial gets 3 boots to confirm itself (trial.py: its status PUBACKed within
trial_s); each boot is counted here, before the app is imported, so a crash, a hang (the
watchdog, armed here for a trial boot) or a power cut all use up a try. After the last one the
record goes back to the previous version, and data/update.json says why: the crash line of
data/crash.txt, else "no status within Ns".

On the Pico W, MicroPython runs the frozen _boot.py (mounts littlefs at "/"), then boot.py, then
main.py, with sys.path ["", ".frozen", "/lib"] (ports/rp2/main.c, ports/rp2/modules/_boot.py).
"""
import json
import os
import sys

# sys.path entries every version shares (the sim adds its board's folder: sim/sim_main.py).
KEEP = [".frozen"]
record = None  # the boot record this boot runs under (None: the factory install)
trial = False  # this boot is a try of a version on trial
# Few names on purpose: every kiosk that was ever updated loads this at every boot, and each
# name is an interned string (protocol/fwcore.py says why that counts).


def read_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None  # none, or damaged outside littlefs' guarantees


def write_json(path, obj):
    """Temp file + rename (littlefs renames atomically): the only way a record, the progress
    or the crash file is written here."""
    with open(path + ".tmp", "w") as f:
        f.write(obj if type(obj) is str else json.dumps(obj))
    os.rename(path + ".tmp", path)


def boot():
    """main.py calls this: choose the version (counting a trial boot), put only its folder on
    sys.path, run it."""
    global record, trial
    rec = read_json("fw/boot.json")
    if type(rec) is not dict or type(rec.get("slot")) is not str:
        rec = None  # the factory install
    elif rec.get("trial"):
        n = rec.get("tries", 0) + 1
        if n > 3:
            # The trial used up its tries: back to the previous version, and say why (the
            # progress first: a cut before the record's rename rolls back again, same reason).
            why = "no status within %ds" % rec.get("trial_s", 180)
            try:
                with open("data/crash.txt") as f:
                    why = [s for s in f.read().split("\n") if s.strip()][-1].strip()[-200:]
            except (OSError, IndexError):
                pass
            p = read_json("data/update.json")
            n = rec.get("n", 0)
            write_json("data/update.json", {
                "v": rec.get("v"), "n": n, "state": "rolled_back", "done": 0, "total": 0,
                "reason": why, "acc": max(p.get("acc", 0) if type(p) is dict else 0, n)})
            print("log loader: %s rolled back to %s: %s" % (rec.get("v"), rec.get("prev_v"), why))
            rec = {"slot": rec.get("prev", ""), "v": rec.get("prev_v"), "trial": False}
        else:
            rec["tries"] = n  # counted before the app runs: a hang or a cut uses a try
            trial = True
            print("log loader: %s on trial, boot %d of 3" % (rec.get("v"), n))
        write_json("fw/boot.json", rec)
    record = rec
    if rec and rec["slot"]:
        folder = os.getcwd().rstrip("/") + "/fw/" + rec["slot"]
        try:
            os.stat(folder + "/app.mpy")
            # Only this version's folder: a module of another version (or of the factory
            # install at the root) can never be imported by mistake.
            sys.path[:] = [folder, folder + "/lib"] + [p for p in sys.path if p in KEEP]
        except OSError:
            print("log loader: %s has no app: the factory install runs" % folder)
    import machine
    if trial:
        # The longest watchdog the RP2040 has (ports/rp2/machine_wdt.c: WDT_TIMEOUT_MAX 8388,
        # its 24-bit counter at 2 ticks a microsecond). Once started it cannot be stopped:
        # that file has no deinit. The app's watchdog task feeds it; a trial version that
        # hangs before that resets, and uses up a try.
        machine.WDT(timeout=8388)
    try:
        import app
    except Exception as e:
        if not trial:
            raise  # the factory or a confirmed version: as before, the console shows it
        import io
        s = io.StringIO()
        sys.print_exception(e, s)  # type: ignore[attr-defined]
        s = s.getvalue()
        try:
            write_json("data/crash.txt", s)
        except OSError:
            pass
        # The app never got to say its version (the board prints `fw V` once settings load):
        # say it here, so every boot names the version it ran, a failed one included.
        print("fw %s" % rec.get("v"))
        print("log crash at import: " + s.replace("\n", " | "))
        machine.reset()
        return
    app.boot()
