"""Entry point of `civic kiosk sim` inside MicroPython (started by hub/kiosk_tools/sim.py).

Mounts DIR/flash.img at /flash, makes it the current folder (the Pico W's "/"), puts the
chosen code on sys.path (the repository sources, a compiled build, or what is on the flash)
and runs that code's main.py, exactly the file a Pico W runs at power-on. Its loader
(bootsel.py) then runs the version the flash's boot record names, if an update installed one:
whatever the repository's firmware/ holds, the kiosk runs what is on its flash.
"""
import json
import os
import sys

cfg = json.loads(os.getenv("CIVIC_SIM") or "{}")
here = cfg["sim"]
sys.path[:] = [here, ".frozen"]
import asyncio  # noqa: E402,F401  (before the model: asyncio keeps the unix port's own ticks)
import picow  # noqa: E402
picow.install(cfg.get("ticks_start"))  # the Pico W's ticks, RTC, DNS and sockets
import blockdev  # noqa: E402
blockdev.TIMING = cfg.get("flash_timing", True)

try:
    bdev = blockdev.mount(cfg["dir"] + "/flash.img")
except OSError as e:
    print("error: cannot mount %s/flash.img as littlefs2 (%r)" % (cfg["dir"], e))
    sys.exit(2)
import board_sim  # noqa: E402
board_sim.BDEV = bdev
board_sim.CFG = cfg
os.chdir("/flash")

mode = cfg.get("mode", "src")
if mode == "build":
    code = cfg["code"]
    path = [code, code + "/lib", here]
elif mode == "flash":
    code = "/flash"
    path = ["/flash", "/flash/lib", here]
else:
    code = cfg["code"]
    path = [here, code, cfg["root"]]
sys.path[:] = path + [".frozen"]

# The Pico W's `machine` as far as the loader uses it: the watchdog and reset() (the
# supervisor in hub/kiosk_tools/sim.py starts MicroPython again on the same flash).
sys.modules["machine"] = picow.Machine(board_sim.out)  # type: ignore[assignment]
try:
    os.stat("fw/boot.json")
    import bootsel
    bootsel.KEEP = [here, ".frozen"]  # the sim's board is no part of any version
except (OSError, ImportError):
    pass  # no update installed (main.py runs the factory app), or a build without a loader
try:
    src = open(code + "/main.py").read()
except OSError:
    print("error: no main.py in %s" % code)
    sys.exit(2)
exec(src, {"__name__": "__main__"})
