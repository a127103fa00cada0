"""Migrations for the tables that hub/ingest.py owns (names "ingest-NNN-...")."""
from hub.db import migration  # noqa: F401
