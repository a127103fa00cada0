# The firmware's version: the one line a release build replaces (`civic firmware release`
# writes its own fwversion.py into the release). Status "fw" and the sim's `fw VERSION` come
# from here.
VERSION = "1.0.0"
