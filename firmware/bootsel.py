"""The stable loader: which firmware version runs at power-on (firmware/README.md "Updates").

It lives at the flash root beside main.py, belongs to the factory install and is never part
of a release (protocol.updates.LOADER_FILES), so no update can break the way back. It uses
nothing but builtins: every other module belongs to one version.

Boot record `fw/boot.json` (absent: the factory install at the root runs):
    {"slot": "a", "v": "1.1.0", "n": 3, "prev": "", "prev_v": "1.0.0",
     "trial": true, "tries": 1, "trial_s": 180}
`slot` is the app folder fw/<slot> ("" = the factory install), `prev`/`prev_v` what ran before.
A record is only ever replaced whole: written to fw/boot.tmp, then renamed over fw/boot.json
(littlefs renames atomically: lfs_rename replaces the destination in one metadata commit), so
a power cut leaves the old record or the new one, never half of either.

A version on trial gets TRIES boots to confirm itself (trial.py: its status PUBACKed within
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

RECORD = "fw/boot.json"
PROGRESS = "data/update.json"   # the update's progress (updater.py owns it; rollback writes it)
CRASH = "data/crash.txt"
TRIES = 3
# The longest watchdog the RP2040 has: its 24-bit counter at 2 ticks per us
# (ports/rp2/machine_wdt.c: WDT_TIMEOUT_MAX 8388). Once started it cannot be stopped: that
# file has no deinit, the pico SDK's watchdog_enable() is the only call. The app's own
# watchdog task (app.py) then feeds it; a trial version that hangs before that resets.
WDT_MS = 8388
KEEP = (".frozen",)  # sys.path entries every version shares (the sim adds its board's folder)

record = None  # the boot record this boot runs under (None: the factory install)
trial = False  # this boot is a try of a version on trial


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def read_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def write_json(path, obj):
    """Temp file + rename: the only way a record or the progress file is ever written."""
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(obj))
    os.rename(path + ".tmp", path)


def read_record():
    rec = read_json(RECORD)
    if type(rec) is not dict or type(rec.get("slot")) is not str:
        return None  # none, or damaged outside littlefs' guarantees: the factory install
    return rec


def write_record(rec):
    if not _exists("fw"):
        os.mkdir("fw")
    write_json(RECORD, rec)


def crash_line():
    """The last line of data/crash.txt (the exception itself), or None."""
    try:
        with open(CRASH) as f:
            text = f.read()
    except OSError:
        return None
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return lines[-1].strip()[-200:] if lines else None


def save_crash(e):
    import io
    buf = io.StringIO()
    sys.print_exception(e, buf)  # type: ignore[attr-defined]
    text = buf.getvalue()
    try:
        if not _exists("data"):
            os.mkdir("data")
        with open(CRASH + ".tmp", "w") as f:
            f.write(text)
        os.rename(CRASH + ".tmp", CRASH)
    except OSError:
        pass
    return text


def arm_watchdog(ms):
    """The board's hardware watchdog (the sim replaces this with its model's)."""
    import machine
    return machine.WDT(timeout=ms)


def reset():
    """Boot again (the sim replaces this: its supervisor starts MicroPython again)."""
    import machine
    machine.reset()


def rollback(rec):
    """The trial used up its tries: back to the previous version, and say why."""
    reason = crash_line() or "no status within %ds" % rec.get("trial_s", 180)
    p = read_json(PROGRESS)
    acc = p.get("acc", 0) if type(p) is dict else 0
    write_json(PROGRESS, {"v": rec.get("v"), "n": rec.get("n", 0), "state": "rolled_back",
                          "done": 0, "total": 0, "reason": reason,
                          "acc": max(acc, rec.get("n", 0))})
    back = {"slot": rec.get("prev", ""), "v": rec.get("prev_v"), "trial": False}
    write_record(back)   # the progress first: a cut in between rolls back again, same reason
    print("log loader: %s rolled back to %s: %s" % (rec.get("v"), back["v"], reason))
    return back


def choose():
    """-> the app folder to run ("" = the factory install), counting a trial boot."""
    global record, trial
    rec = read_record()
    if rec is not None and rec.get("trial"):
        tries = rec.get("tries", 0) + 1
        if tries > rec.get("max_tries", TRIES):
            rec = rollback(rec)
        else:
            rec["tries"] = tries
            write_record(rec)   # counted before the app runs: a hang or a cut uses a try
            trial = True
            print("log loader: %s on trial, boot %d of %d" % (rec.get("v"), tries,
                                                              rec.get("max_tries", TRIES)))
    record = rec
    slot = rec.get("slot", "") if rec else ""
    if slot and not (_exists("fw/" + slot + "/app.mpy") or _exists("fw/" + slot + "/app.py")):
        print("log loader: fw/%s has no app: the factory install runs" % slot)
        return ""
    return slot


def boot():
    """main.py calls this: choose the version, put only its folder on sys.path, run it."""
    slot = choose()
    if slot:
        folder = os.getcwd().rstrip("/") + "/fw/" + slot
        # Only this version's folder: a module another version has (or the factory install
        # at the root) can never be imported by mistake.
        sys.path[:] = [folder, folder + "/lib"] + [p for p in sys.path if p in KEEP]
    if trial:
        arm_watchdog(WDT_MS)
    try:
        import app
    except Exception as e:
        if not trial:
            raise  # the factory or a confirmed version: as before, the console shows it
        print("log crash at import: " + save_crash(e).replace("\n", " | "))
        reset()
        return
    app.boot()
