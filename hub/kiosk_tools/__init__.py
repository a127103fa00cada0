"""Tools for the kiosks themselves, run on a PC: the firmware built with mpy-cross
(build.py: `civic kiosk build`), installed on a board over USB with mpremote (board.py,
flash.py: `civic kiosk flash`), waiting for the flashed kiosk's first status on the broker
(first_status.py), and the firmware run under the MicroPython unix port (sim.py:
`civic kiosk sim`).
"""
