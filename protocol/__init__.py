"""Protocol v1 of the civic kiosks: the one source of truth for the firmware and the hub.

Runs unchanged on CPython and MicroPython, so it uses only what both share: no typing, no re,
no dataclasses, no f-strings with format specs that MicroPython lacks.
"""
from protocol.v1 import *  # noqa: F401,F403
from protocol.receipts import *  # noqa: F401,F403
