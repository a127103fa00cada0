"""Migrations for the tables that the web side owns (names "web-NNN-...")."""
from hub.db import migration  # noqa: F401
