# Power-on entry of the kiosk (Pico W, and `civic kiosk sim`): see app.py and README.md.
import app

app.boot()
