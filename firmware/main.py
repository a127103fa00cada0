# Power-on entry of the kiosk (Pico W, and `civic kiosk sim`): the stable loader picks the
# firmware version to run and boots it (bootsel.py; README.md "Updates").
import bootsel

bootsel.boot()
