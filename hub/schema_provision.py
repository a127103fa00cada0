"""Migrations for the tables that hub/provision.py owns (names "provision-NNN-...")."""
from hub.db import migration


@migration("provision-001-mqtt-accounts")
def mqtt_accounts(db):
    db.executescript("""
    -- One MQTT account per provisioned kiosk, plus the hub's own account (role 'hub').
    -- pw_hash is in Mosquitto's password-file format ("$7$" PBKDF2-SHA512), so
    -- `civic broker config` can write the broker's password file from it: the password itself is
    -- printed once, at provisioning, and stored nowhere.
    -- revoked: when set, the account is left out of the broker's files (taps already counted stay).
    CREATE TABLE mqtt_accounts (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('kiosk', 'hub')),
        kiosk TEXT UNIQUE,
        pw_hash TEXT NOT NULL,
        created INTEGER NOT NULL,
        rotated INTEGER,
        revoked INTEGER,
        CHECK ((role = 'kiosk') = (kiosk IS NOT NULL))
    );
    """)
