"""Migrations for the tables that hub/provision.py owns (names "provision-NNN-...")."""
from hub.db import migration  # noqa: F401
