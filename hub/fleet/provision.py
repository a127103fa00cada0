"""Kiosk provisioning: MQTT accounts for kiosks and the hub, and the broker setup built from them.

- `civic kiosk provision ID [--district D] [--rotate]`: registers the kiosk (kiosks row with its
  district) and creates its MQTT account; prints once a JSON object with `username` (the kiosk id)
  and `password`, and `update_key`, the key that authenticates its firmware offers (made anew
  on --rotate too: hub/updates/update_keys.py). Only the password's hash is kept, so a lost
  password is replaced with --rotate, never recovered; provisioning an id that already has a live account without --rotate is an error.
- `civic kiosk revoke ID`: the kiosk's account is marked revoked and left out of the broker files;
  its taps stay. With --broker-dir the files are rewritten and the broker reloaded at once.
- `civic broker config --dir DIR [--port P] [--reload]`: writes mosquitto.conf, passwd and acl
  (hub/fleet/broker_config.py). The hub's own account (HUB_USER) is created on the first run, its
  password printed then, once, in the JSON; later runs reuse its stored hash.
- `civic broker config --kind rabbitmq --dir DIR`: the same accounts and rules as definitions.json
  and rabbitmq.conf for a RabbitMQ cluster (hub/fleet/rabbitmq_config.py, docs/SCALING.md).
"""
import json
import os
import secrets
import time

from hub.fleet import broker_config, rabbitmq_config
from hub.offers import offers
from hub.store import rollups
from hub.store.connection import open_db
from hub.updates import update_keys
from protocol.v1 import valid_kiosk_id

# The hub's MQTT username: '_' cannot occur in a kiosk id, so no kiosk can ever be given it.
HUB_USER = "civic_hub"
RESERVED_PREFIX = "civic-"  # the hub's own MQTT client ids: civic-hub, civic-ingest-N


def new_password():
    return secrets.token_urlsafe(18)  # 144 random bits, 24 characters, safe in JSON and URLs


def _account(db, username):
    return db.execute("SELECT username, role, kiosk, pw_hash, created, revoked "
                      "FROM mqtt_accounts WHERE username = ?", [username]).fetchone()


def provision_kiosk(db_path, kiosk_id, district=None, rotate=False):
    """Register kiosk_id and return (to print once) the JSON with its MQTT credentials."""
    if not valid_kiosk_id(kiosk_id):
        raise ValueError("bad kiosk id %r: use 1-32 of a-z, 0-9 and '-', starting with a letter "
                         "or digit (e.g. lib-north-1)" % (kiosk_id,))
    if kiosk_id.startswith(RESERVED_PREFIX):
        # MQTT client ids are broker-wide: on the kiosks' listener a kiosk's client id is its
        # username, so a kiosk named like the hub's clients (civic-hub, civic-ingest-N) could
        # take over the hub's persistent session and the taps queued for it.
        raise ValueError("kiosk ids starting with %r are reserved for the hub's own MQTT "
                         "clients: choose another id" % RESERVED_PREFIX)
    db = open_db(db_path)
    try:
        row = _account(db, kiosk_id)
        live = row is not None and row[5] is None
        if live and not rotate:
            raise ValueError("kiosk %s is already provisioned; its password was shown once and is "
                             "not stored. Use --rotate to issue a new one (the old one stops "
                             "working when the broker config is rewritten)" % kiosk_id)
        if rotate and row is None:
            raise ValueError("kiosk %s is not provisioned yet: run without --rotate" % kiosk_id)
        password = new_password()
        now = int(time.time())
        with db.conn:
            before = db.execute("SELECT district FROM kiosks WHERE id = ?", [kiosk_id]).fetchone()
            if before is not None and district is not None and before[0] != district:
                # A kiosk that already counted taps moves: its history moves with it.
                rollups.move_kiosk(db, kiosk_id, before[0], district)
            db.execute("INSERT INTO kiosks (id, district) VALUES (?, ?) ON CONFLICT(id) DO UPDATE "
                       "SET district = coalesce(excluded.district, kiosks.district)",
                       [kiosk_id, district])
            db.execute("INSERT INTO mqtt_accounts (username, role, kiosk, pw_hash, rabbit_hash, "
                       "created) VALUES (?, 'kiosk', ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE "
                       "SET pw_hash = excluded.pw_hash, rabbit_hash = excluded.rabbit_hash, "
                       "rotated = excluded.created, revoked = NULL",
                       [kiosk_id, kiosk_id, broker_config.mosquitto_hash(password),
                        rabbitmq_config.rabbit_hash(password), now])
            district = db.execute("SELECT district FROM kiosks WHERE id = ?",
                                  [kiosk_id]).fetchone()[0]
            # Its first config carries the help offers already recorded for its district (or
            # the city), so a kiosk installed after them shows them from its first boot.
            offers.refresh_configs(db, district)
            update_key = update_keys.set_new_key(db.conn, kiosk_id, now)
    finally:
        db.conn.close()
    return json.dumps({"kiosk": kiosk_id, "username": kiosk_id, "password": password,
                       "district": district, "rotated": row is not None,
                       "update_key": update_key})


def revoke_kiosk(db_path, kiosk_id, broker_dir=None):
    """Take away kiosk_id's broker access; returns a message saying what happened and what next."""
    db = open_db(db_path)
    try:
        row = _account(db, kiosk_id)
        if row is None or row[1] != "kiosk":
            raise ValueError("kiosk %s has no MQTT account (never provisioned)" % kiosk_id)
        if row[5] is None:
            with db.conn:
                db.execute("UPDATE mqtt_accounts SET revoked = ? WHERE username = ?",
                           [int(time.time()), kiosk_id])
            msg = "kiosk %s revoked" % kiosk_id
        else:
            msg = "kiosk %s was already revoked" % kiosk_id
    finally:
        db.conn.close()
    if broker_dir and os.path.exists(os.path.join(broker_dir, "rabbitmq.conf")):
        out = json.loads(write_rabbitmq_config(db_path, broker_dir))
        # Importing definitions adds and updates accounts, it never removes one.
        return msg + "; RabbitMQ definitions in %s rewritten: run `rabbitmqctl delete_user %s` " \
            "on one node" % (out["dir"], kiosk_id)
    if broker_dir:
        out = json.loads(write_broker_config(db_path, broker_dir, None, reload=True))
        msg += "; broker files in %s rewritten, %s" % (
            out["dir"], "broker reloaded (pid %d)" % out["reloaded"] if out["reloaded"]
            else "no running broker found: its next start uses them")
    else:
        msg += "; run `civic broker config --dir DIR --reload` to shut it out of the broker"
    return msg


def _hub_account(db, rotate, rabbit=False):
    """(hash, new password or None): the hub's account, created on first use or on rotate.
    rabbit: the RabbitMQ hash instead (None when the account predates it: rotate then)."""
    row = _account(db, HUB_USER)
    if row is not None and not rotate:
        if rabbit:
            return db.execute("SELECT rabbit_hash FROM mqtt_accounts WHERE username = ?",
                              [HUB_USER]).fetchone()[0], None
        return row[3], None
    password = new_password()
    pw_hash = broker_config.mosquitto_hash(password)
    r_hash = rabbitmq_config.rabbit_hash(password)
    with db.conn:
        db.execute("INSERT INTO mqtt_accounts (username, role, kiosk, pw_hash, rabbit_hash, "
                   "created) VALUES (?, 'hub', NULL, ?, ?, ?) ON CONFLICT(username) DO UPDATE "
                   "SET pw_hash = excluded.pw_hash, rabbit_hash = excluded.rabbit_hash, "
                   "rotated = excluded.created",
                   [HUB_USER, pw_hash, r_hash, int(time.time())])
    return (r_hash if rabbit else pw_hash), password


def write_broker_config(db_path, out_dir, port=None, reload=False, rotate_hub=False,
                        hub_port=None, hub_bind=None, certfile=None, keyfile=None):
    """Write DIR/mosquitto.conf, DIR/passwd, DIR/acl for the registry; return a JSON report.

    The report carries the hub's password only on the run that created (or rotated) it.
    Two listeners: `port` on every interface for kiosks (and a single hub), and `hub_port` on
    `hub_bind` (default port + 1 on 127.0.0.1) where the hub keeps its own client ids.
    None keeps what a config written before in DIR had, else 1883 / port + 1 / 127.0.0.1.
    certfile/keyfile (PEM) make the kiosk listener TLS (mqtts://, default port 8883); they are
    copied into DIR, and later runs keep TLS on.
    """
    before = broker_config.existing_ports(out_dir) or (None, None, None, False)
    if bool(certfile) != bool(keyfile):
        raise ValueError("TLS needs both --certfile and --keyfile")
    tls = (certfile, keyfile) if certfile else before[3]
    port = port or before[0] or (8883 if tls else broker_config.DEFAULT_PORT)
    hub_port = hub_port or (before[1] if before[0] == port else None) or port + 1
    hub_bind = hub_bind or before[2] or "127.0.0.1"
    for p in (port, hub_port):
        if not 0 < p < 65536:
            raise ValueError("bad port %d" % p)
    if port == hub_port:
        raise ValueError("the kiosk port and the hub port must differ")
    db = open_db(db_path)
    try:
        hub_hash, hub_password = _hub_account(db, rotate_hub)
        rows = db.execute("SELECT username, pw_hash, revoked FROM mqtt_accounts "
                          "WHERE role = 'kiosk' ORDER BY username").fetchall()
    finally:
        db.conn.close()
    live = [(u, h) for u, h, revoked in rows if revoked is None]
    warnings = broker_config.write_files(out_dir, port, [(HUB_USER, hub_hash)] + live,
                                         [u for u, _ in live], HUB_USER, hub_port, hub_bind,
                                         tls)
    conf = os.path.join(os.path.abspath(out_dir), "mosquitto.conf")
    report = {"dir": os.path.abspath(out_dir), "port": port, "hub_port": hub_port,
              "kiosk_broker": "%s://HOST:%d" % ("mqtts" if tls else "mqtt", port),
              "kiosks": len(live), "revoked": len(rows) - len(live),
              "start": "mosquitto -c " + conf,
              "hub": {"username": HUB_USER, "broker": "mqtt://%s:%d" % (hub_bind, hub_port)},
              "reloaded": None, "warnings": warnings}
    if hub_password:
        report["hub"]["password"] = hub_password
        report["hub"]["note"] = "shown once: pass it to `civic serve --user/--password`"
        # The same shape as `civic kiosk provision` prints, for scripts: top-level
        # username and password of the account that was just created.
        report["username"], report["password"] = HUB_USER, hub_password
    if reload:
        report["reloaded"] = broker_config.reload_broker(out_dir)
    return json.dumps(report, indent=2)


def write_rabbitmq_config(db_path, out_dir, port=None, rotate_hub=False, certfile=None,
                          keyfile=None, nodes=()):
    """DIR/definitions.json and DIR/rabbitmq.conf for the registry; return a JSON report.

    The same accounts as the Mosquitto files, with the hashes RabbitMQ checks. Accounts made
    before those were kept (no rabbit_hash) are left out and listed under "need_rotate"; the
    hub's own is renewed at once then (its new password is in the report, for `civic serve`).
    """
    before = rabbitmq_config.existing(out_dir) or (None, False)
    if bool(certfile) != bool(keyfile):
        raise ValueError("TLS needs both --certfile and --keyfile")
    tls = (certfile, keyfile) if certfile else None
    if before[1] and not tls:   # TLS stays on, with the certificate already in DIR
        tls = (os.path.join(out_dir, "server.crt"), os.path.join(out_dir, "server.key"))
    port = port or before[0] or (rabbitmq_config.DEFAULT_TLS_PORT if tls
                                 else rabbitmq_config.DEFAULT_PORT)
    if not 0 < port < 65536:
        raise ValueError("bad port %d" % port)
    db = open_db(db_path)
    try:
        hub_hash, hub_password = _hub_account(db, rotate_hub, rabbit=True)
        if hub_hash is None:   # an account from before rabbit_hash: a new password
            hub_hash, hub_password = _hub_account(db, True, rabbit=True)
        rows = db.execute("SELECT username, rabbit_hash FROM mqtt_accounts "
                          "WHERE role = 'kiosk' AND revoked IS NULL ORDER BY username").fetchall()
    finally:
        db.conn.close()
    live = [(u, h) for u, h in rows if h]
    rabbitmq_config.write_files(out_dir, port, [(HUB_USER, hub_hash)] + live,
                                [u for u, _ in live], HUB_USER, tls, nodes)
    d = os.path.abspath(out_dir)
    report = {"dir": d, "kind": "rabbitmq", "port": port,
              "kiosk_broker": "%s://NODE:%d" % ("mqtts" if tls else "mqtt", port),
              "kiosks": len(live), "need_rotate": [u for u, h in rows if not h],
              "import": "rabbitmqctl import_definitions " + os.path.join(d, "definitions.json"),
              "hub": {"username": HUB_USER,
                      "broker": "%s://NODE:%d" % ("mqtts" if tls else "mqtt", port)}}
    if hub_password:
        report["hub"]["password"] = hub_password
        report["hub"]["note"] = ("shown once: pass it to `civic serve --user/--password`; "
                                 "it is the hub's password for Mosquitto too from now on")
        report["username"], report["password"] = HUB_USER, hub_password
    return json.dumps(report, indent=2)
