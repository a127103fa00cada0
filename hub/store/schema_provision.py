"""Migrations for the tables that the fleet tools (hub/fleet/provision.py) own
(names "provision-NNN-...").
"""


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


def rabbit_hash(db):
    db.executescript("""
    -- The same password hashed the way RabbitMQ checks it (salted SHA-256, its
    -- rabbit_password_hashing_sha256), for `civic broker config --kind rabbitmq`: the password is
    -- known only at provisioning, so the hash is kept from then on. NULL for accounts made before
    -- this column: those need a --rotate before they can log in to RabbitMQ.
    ALTER TABLE mqtt_accounts ADD COLUMN rabbit_hash TEXT;
    """)


# Applied in this order, after the ones listed before this module in hub/store/migrations.py.
MIGRATIONS = [
    ("provision-001-mqtt-accounts", mqtt_accounts),
]

# Appended at the end of hub/store/migrations.py MIGRATIONS (after every module's first ones).
LATER = [
    ("provision-002-rabbit-hash", rabbit_hash),
]
