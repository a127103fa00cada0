# Power-on entry (Pico W and sim): the loader if an update is installed (bootsel.py).
import os

try:
    os.stat("fw/boot.json")
    updated = True
except OSError:
    updated = False
if updated:
    import bootsel
    bootsel.boot()
else:
    import app
    app.boot()
