"""Firmware updates over the air, the hub's side (docs/UPDATES.md): releases compiled and kept
in the database (`releases.py`), each kiosk's update key that MACs its offers
(`update_keys.py`), and rollouts: offers per kiosk, the states kiosks report, what the CLI,
the page and the API show (`rollouts.py`). The ingest publishes the offers and serves the
files (hub/ingest/fw_offers.py)."""
