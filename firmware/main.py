# Power-on entry of the kiosk (Pico W, and `civic kiosk sim`). A boot record means an update
# has been installed: the stable loader picks the version (bootsel.py, README.md "Updates").
# Without one the factory install runs, and the loader costs no RAM.
import os

try:
    os.stat("fw/boot.json")
    import bootsel as start
except OSError:
    import app as start
start.boot()
