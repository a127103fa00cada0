"""The kiosk registry as a RabbitMQ setup: definitions.json and rabbitmq.conf for a cluster whose
nodes run the MQTT plugin (`civic broker config --kind rabbitmq --dir DIR`, docs/SCALING.md).

Written for what RabbitMQ 3.10 (Debian 12's rabbitmq-server) really does, read from its MQTT
plugin's schema (priv/schema/rabbitmq_mqtt.schema) and its documentation:
- MQTT 3.1.1 only. An MQTT topic becomes a routing key on the `amq.topic` exchange with '/'
  and '.' swapped: civic/v1/k1/taps is civic.v1.k1.taps. Kiosk ids never hold a '.'.
- Topic permissions are regular expressions over those routing keys, per user, per exchange:
  write for PUBLISH, read for SUBSCRIBE (a wildcard filter is checked as the routing key
  pattern it becomes, civic.v1.*.config, so it matches no kiosk's own pattern and is refused).
  They are written from protocol.KIOSK_WRITES / KIOSK_READS, the lists the Mosquitto ACL
  (hub/fleet/broker_config.py acl_text) is written from, so both brokers grant the same.
- Resource permissions: a client's subscriptions are queues named mqtt-subscription-<client
  id>qos0 / qos1, bound to amq.topic; a kiosk may create and use only its own.
- A QoS 1 subscription of a persistent session (the hub's) is a durable queue; with
  mqtt.durable_queue_type = quorum it is replicated on every node (Raft), so it survives the
  loss of any one node of three. Its TTL is off: the hub's queue must wait for a hub that is
  down for days.
- mqtt.prefetch is the hub's in-flight window (Mosquitto's max_inflight_messages): the hub
  acks after each commit, so the default 10 would cap it at 10 messages per commit.
- Retained messages live in a per-node store and reach only subscribers on that node: the hub
  never relies on them (configs heal from the kiosk's status, receipts from its resends).
- There is no `$share` (shared subscriptions): one hub session, not several workers.
- Passwords: RabbitMQ checks its own salted SHA-256 (4-byte salt, base64(salt + digest)),
  which cannot be made from Mosquitto's PBKDF2 hash. `civic kiosk provision` stores both since
  the migration provision-002; an account without one is left out and named in the report.
"""
import base64
import hashlib
import json
import os
import pwd
import re
import time

import protocol
from hub.fleet import safe_files

VHOST = "civic"
EXCHANGE = "amq.topic"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
PREFETCH = 5000     # = max_inflight_messages in hub/fleet/deploy/mosquitto.conf


# A kiosk's clean session still gets a durable (auto-delete) classic queue for a QoS 1
# subscription in 3.10, homed on the node it connected to: when that node dies, no other node
# lets the kiosk declare it again ("home node ... is down") until the node is back, so the
# kiosk could not subscribe anywhere. Mirrored on every node, a copy takes over instead. Only
# firmware that subscribes at QoS 1 makes such queues (the hub's own queue is a quorum queue,
# which takes no ha- keys); current firmware subscribes at QoS 0 (transient queues, removed
# with their node).
KIOSK_QUEUES_POLICY = {"vhost": VHOST, "name": "kiosk-qos1-subscriptions",
                       "pattern": "^mqtt-subscription-.*qos1$", "apply-to": "queues",
                       "priority": 0,
                       "definition": {"ha-mode": "all", "ha-sync-mode": "automatic"}}


def rabbit_hash(password, salt=None):
    """A password_hash RabbitMQ accepts (rabbit_password_hashing_sha256)."""
    salt = salt or os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8"))
                            .digest()).decode()


def routing_key(topic):
    """The routing key RabbitMQ's MQTT plugin makes of an MQTT topic ('/' and '.' swapped)."""
    return "".join({"/": ".", ".": "/"}.get(c, c) for c in topic)


def _keys(kiosk, channels):
    """Regex for exactly these routing keys of one kiosk."""
    base = re.escape(routing_key(protocol.topic(kiosk, channels[0])).rsplit(".", 1)[0])
    return "^%s\\.(%s)$" % (base, "|".join(channels))


def _queues(client_id):
    """Regex for the subscription queues of one MQTT client id (and the exchange they bind to
    or publish through, for write and read)."""
    return "^mqtt-subscription-%sqos[01]$" % re.escape(client_id)


def definitions(accounts, kiosks, hub_user, version="3.10.8"):
    """definitions.json as a dict. accounts: [(username, rabbit_hash)], kiosks: kiosk ids."""
    root = re.escape(routing_key(protocol.ROOT))
    hashes = dict(accounts)
    users, perms, topics = [], [], []
    for name in [hub_user] + list(kiosks):
        users.append({"name": name, "password_hash": hashes[name],
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
    # The hub: its own client ids start with civic- (hub/fleet/provision.py RESERVED_PREFIX).
    hub_q = "^mqtt-subscription-civic-.*$"
    perms.append({"user": hub_user, "vhost": VHOST, "configure": hub_q,
                  "write": "^(%s|%s)$" % (re.escape(EXCHANGE), hub_q[1:-1]),
                  "read": "^(%s|%s)$" % (re.escape(EXCHANGE), hub_q[1:-1])})
    topics.append({"user": hub_user, "vhost": VHOST, "exchange": EXCHANGE,
                   "write": "^%s\\..+$" % root, "read": "^%s\\..+$" % root})
    for kid in kiosks:
        q = _queues(kid)
        perms.append({"user": kid, "vhost": VHOST, "configure": q,
                      "write": "^(%s|%s)$" % (re.escape(EXCHANGE), q[1:-1]),
                      "read": "^(%s|%s)$" % (re.escape(EXCHANGE), q[1:-1])})
        topics.append({"user": kid, "vhost": VHOST, "exchange": EXCHANGE,
                       "write": _keys(kid, protocol.KIOSK_WRITES),
                       "read": _keys(kid, protocol.KIOSK_READS)})
    return {"rabbit_version": version, "rabbitmq_version": version,
            "users": users, "vhosts": [{"name": VHOST}], "permissions": perms,
            "topic_permissions": topics,
            # A bound on connections for the whole vhost: every kiosk once, plus the hub and
            # room for reconnects that overlap a dying connection.
            "parameters": [{"vhost": VHOST, "component": "vhost-limits", "name": "limits",
                            "value": {"max-connections": 2 * len(kiosks) + 20}}],
            "global_parameters": [], "policies": [KIOSK_QUEUES_POLICY], "queues": [],
            "exchanges": [],
            "bindings": []}


def conf_text(out_dir, port, kiosk_count, tls=False, nodes=()):
    d = os.path.abspath(out_dir)
    out = ["# RabbitMQ (3.10, MQTT plugin) for civic kiosks, written by `civic broker config "
           "--kind rabbitmq`",
           "# on %s for %d kiosk(s). Rerun the command instead of editing; then on one node:"
           % (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), kiosk_count),
           "#   rabbitmqctl import_definitions %s/definitions.json" % d,
           "# Copy this file to every node (/etc/rabbitmq/rabbitmq.conf) and enable the plugin:",
           "#   rabbitmq-plugins enable rabbitmq_mqtt",
           "",
           "# Accounts, permissions and limits, loaded at every boot as well.",
           "load_definitions = %s/definitions.json" % d,
           "# The default guest account may only ever log in from the node itself.",
           "loopback_users.guest = true",
           "",
           "# Every MQTT client must log in: no anonymous access, no default account.",
           "mqtt.allow_anonymous = false",
           "mqtt.vhost = %s" % VHOST,
           "mqtt.exchange = %s" % EXCHANGE,
           "# The hub's persistent session: its QoS 1 queue replicated on every node (Raft), so",
           "# it survives a node's loss; never expired, so it waits for a hub down for days.",
           "mqtt.durable_queue_type = quorum",
           "mqtt.subscription_ttl = infinity",
           "# Messages sent before the hub must ack (it acks after each commit).",
           "mqtt.prefetch = %d" % PREFETCH,
           "# Retained messages (configs, receipts, statuses) on disk on each node; a node",
           "# delivers only its own, so the hub never relies on them.",
           "mqtt.retained_message_store = rabbit_mqtt_retained_msg_store_dets",
           "mqtt.tcp_listen_options.backlog = 4096",
           "mqtt.tcp_listen_options.nodelay = true",
           "# Cut a client whose payloads exceed this: contract payloads are at most 4096 bytes.",
           "max_message_size = 65536",
           ""]
    if tls:
        out += ["# TLS (mqtts://): kiosks check this certificate against the CA in their ca.pem.",
                "mqtt.listeners.tcp = none",
                "mqtt.listeners.ssl.default = %d" % port,
                "ssl_options.certfile = %s/server.crt" % d,
                "ssl_options.keyfile = %s/server.key" % d,
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
                ""]
    else:
        out += ["mqtt.listeners.tcp.default = %d" % port, ""]
    if nodes:
        out += ["# The cluster: each node finds the others by name at its first boot.",
                "cluster_formation.peer_discovery_backend = classic_config"]
        out += ["cluster_formation.classic_config.nodes.%d = %s" % (i + 1, n)
                for i, n in enumerate(nodes)]
        out.append("")
    return "\n".join(out)


def _broker_account():
    """(uid, gid) that may read the files: root keeps them, the rabbitmq group reads them."""
    if os.geteuid() != 0:
        return None
    try:
        return 0, pwd.getpwnam("rabbitmq").pw_gid
    except KeyError:
        return None


def write_files(out_dir, port, accounts, kiosks, hub_user, tls=None, nodes=()):
    """definitions.json and rabbitmq.conf (and the TLS certificate and key, when given as
    (certfile, keyfile)) in out_dir. Hashes in definitions.json: 0640, the broker's group."""
    safe_files.check_dir(out_dir)
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    out_dir = os.path.realpath(out_dir)
    owner = _broker_account()
    safe_files.own_dir(out_dir, 0o750 if owner else 0o700, owner)
    if tls:
        for src, name, mode in ((tls[0], "server.crt", 0o644), (tls[1], "server.key", 0o640)):
            text = open(src, encoding="ascii").read()
            safe_files.write(os.path.join(out_dir, name), text, mode, owner)
    defs = definitions(accounts, kiosks, hub_user)
    safe_files.write(os.path.join(out_dir, "definitions.json"), json.dumps(defs, indent=2) + "\n",
                     0o640, owner)
    safe_files.write(os.path.join(out_dir, "rabbitmq.conf"),
                     conf_text(out_dir, port, len(kiosks), bool(tls), nodes), 0o644, owner)


def existing(out_dir):
    """(port, tls) of a rabbitmq.conf written here before, or None."""
    try:
        text = open(os.path.join(out_dir, "rabbitmq.conf")).read()
    except OSError:
        return None
    m = re.search(r"^mqtt\.listeners\.(tcp|ssl)\.default = (\d+)$", text, re.M)
    return (int(m.group(2)), m.group(1) == "ssl") if m else None
