"""Each kiosk's update key: 32 random bytes that MAC the firmware offers the hub makes to it
(protocol/updates.py sign_offer), so a kiosk talking to a compromised broker still takes only
the hub's offers. Why a MAC and not a signature: docs/UPDATES.md.

The key is made when a kiosk is provisioned (`civic kiosk provision`, again on --rotate, as
the kiosk is re-flashed with new credentials then anyway), or on its own by
`civic kiosk update-key ID` for a kiosk provisioned before updates existed or whose key must
change. It is printed once in that JSON as `update_key` (hex), written into the kiosk's
settings by `civic kiosk flash`, and kept by the hub in kiosk_update_keys. It never travels
over MQTT. A kiosk whose key changed takes offers only once it has been flashed with the new
one (its settings), so rotate a key together with a visit to the kiosk.
"""
import json
import secrets
import time

KEY_BYTES = 32


def new_key():
    return secrets.token_hex(KEY_BYTES)


def valid_key_hex(s):
    return isinstance(s, str) and len(s) == 2 * KEY_BYTES and \
        all(c in "0123456789abcdef" for c in s)


def set_new_key(conn, kiosk, now=None):
    """A fresh key for kiosk (inside the caller's transaction). -> its hex."""
    key = new_key()
    conn.execute("INSERT INTO kiosk_update_keys (kiosk, key, created) VALUES (?, ?, ?) "
                 "ON CONFLICT (kiosk) DO UPDATE SET key = excluded.key, "
                 "created = excluded.created", (kiosk, key, int(now or time.time())))
    return key


def ensure_key(conn, kiosk):
    """kiosk's key, made now if it has none (the demo's kiosks). -> hex."""
    row = conn.execute("SELECT key FROM kiosk_update_keys WHERE kiosk = ?", (kiosk,)).fetchone()
    return row[0] if row else set_new_key(conn, kiosk)


def key_of(conn, kiosk):
    """kiosk's key as bytes, or None when it has none (it cannot be offered a release)."""
    row = conn.execute("SELECT key FROM kiosk_update_keys WHERE kiosk = ?", (kiosk,)).fetchone()
    return bytes.fromhex(row[0]) if row else None


def rotate_key(db, kiosk):
    """`civic kiosk update-key ID`: a new key for a registered kiosk. -> the JSON to print
    once (the kiosk id and its key; `civic kiosk flash --credentials` takes it)."""
    with db.conn:
        if not db.execute("SELECT 1 FROM kiosks WHERE id = ?", [kiosk]).fetchone():
            raise ValueError("kiosk %s is not registered: run `civic kiosk provision %s` "
                             "(it makes the update key too)" % (kiosk, kiosk))
        key = set_new_key(db.conn, kiosk)
    return json.dumps({"kiosk": kiosk, "update_key": key})
