"""`civic broker config --kind rabbitmq` without a broker: what it writes, what it refuses, and
accounts made before RabbitMQ hashes were kept (tests/test_rabbitmq_acl.py runs the files on a
real cluster)."""
import base64
import hashlib
import json
import re
import sqlite3

from click.testing import CliRunner

import protocol
from hub.cli import cli
from hub.fleet import provision, rabbitmq_config


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def check_rabbit_hash(h, password):
    raw = base64.b64decode(h)
    return hashlib.sha256(raw[:4] + password.encode()).digest() == raw[4:]


def test_definitions_and_conf(db_path, tmp_path):
    a = json.loads(provision.provision_kiosk(db_path, "kiosk-a"))
    provision.provision_kiosk(db_path, "kiosk-b")
    out = tmp_path / "rmq"
    rep = json.loads(run("broker", "config", "--kind", "rabbitmq", "--dir", str(out),
                         "--nodes", "rabbit@mq1,rabbit@mq2", "--db", db_path).output)
    assert rep["kiosks"] == 2 and rep["need_rotate"] == [] and rep["hub"]["password"]
    assert rep["import"].startswith("rabbitmqctl import_definitions ")
    d = json.loads((out / "definitions.json").read_text())
    users = {u["name"]: u for u in d["users"]}
    assert set(users) == {"civic_hub", "kiosk-a", "kiosk-b"}
    assert check_rabbit_hash(users["kiosk-a"]["password_hash"], a["password"])
    assert check_rabbit_hash(users["civic_hub"]["password_hash"], rep["hub"]["password"])
    topics = {t["user"]: t for t in d["topic_permissions"]}
    # The same grants as the Mosquitto ACL: exactly the kiosk's own channels, as routing keys.
    for ch in protocol.CHANNELS:
        key = rabbitmq_config.routing_key(protocol.topic("kiosk-a", ch))
        other = rabbitmq_config.routing_key(protocol.topic("kiosk-b", ch))
        assert bool(re.match(topics["kiosk-a"]["write"], key)) == (ch in protocol.KIOSK_WRITES)
        assert bool(re.match(topics["kiosk-a"]["read"], key)) == (ch in protocol.KIOSK_READS)
        assert not re.match(topics["kiosk-a"]["write"], other)
        assert not re.match(topics["kiosk-a"]["read"], other)
        assert re.match(topics["civic_hub"]["read"], other)
    conf = (out / "rabbitmq.conf").read_text()
    for line in ("mqtt.allow_anonymous = false", "mqtt.durable_queue_type = quorum",
                 "mqtt.subscription_ttl = infinity", "mqtt.listeners.tcp.default = 1883",
                 "cluster_formation.classic_config.nodes.2 = rabbit@mq2",
                 "load_definitions = %s/definitions.json" % out):
        assert line + "\n" in conf


def test_routing_keys_swap_slash_and_dot():
    assert rabbitmq_config.routing_key("civic/v1/k-1/taps") == "civic.v1.k-1.taps"
    assert rabbitmq_config.routing_key("a.b/c") == "a/b.c"


def test_accounts_from_before_rabbit_hashes(db_path, tmp_path):
    provision.provision_kiosk(db_path, "kiosk-new")
    provision.provision_kiosk(db_path, "kiosk-old")
    mosq = json.loads(run("broker", "config", "--dir", str(tmp_path / "m"), "--db",
                          db_path).output)
    c = sqlite3.connect(db_path)
    with c:   # as written before provision-002: no RabbitMQ hash kept
        c.execute("UPDATE mqtt_accounts SET rabbit_hash = NULL "
                  "WHERE username IN ('kiosk-old', 'civic_hub')")
    c.close()
    rep = json.loads(run("broker", "config", "--kind", "rabbitmq", "--dir", str(tmp_path / "r"),
                         "--db", db_path).output)
    assert rep["need_rotate"] == ["kiosk-old"] and rep["kiosks"] == 1
    # The hub's account had no RabbitMQ hash: a new password, shown once, for both brokers.
    assert rep["hub"]["password"] and rep["hub"]["password"] != mosq["hub"]["password"]
    names = [u["name"] for u in json.loads((tmp_path / "r" / "definitions.json").read_text())
             ["users"]]
    assert names == ["civic_hub", "kiosk-new"]
    again = json.loads(run("broker", "config", "--kind", "rabbitmq", "--dir",
                           str(tmp_path / "r"), "--db", db_path).output)
    assert "password" not in again["hub"]
    provision.provision_kiosk(db_path, "kiosk-old", rotate=True)
    rep = json.loads(run("broker", "config", "--kind", "rabbitmq", "--dir", str(tmp_path / "r"),
                         "--db", db_path).output)
    assert rep["need_rotate"] == [] and rep["kiosks"] == 2


def test_mosquitto_only_options_are_refused(db_path, tmp_path):
    r = CliRunner().invoke(cli, ["broker", "config", "--kind", "rabbitmq", "--dir",
                                 str(tmp_path / "r"), "--reload", "--db", db_path])
    assert r.exit_code != 0 and "import_definitions" in r.output


def test_provision_and_revoke_with_a_rabbitmq_folder(db_path, tmp_path):
    from tests.support.certs import make_certs
    ca, crt, key = make_certs(tmp_path)
    out = tmp_path / "r"
    provision.provision_kiosk(db_path, "kiosk-a")
    run("broker", "config", "--kind", "rabbitmq", "--dir", str(out), "--certfile", crt,
        "--keyfile", key, "--db", db_path)
    r = CliRunner().invoke(cli, ["kiosk", "provision", "kiosk-b", "--broker-dir", str(out),
                                 "--db", db_path])
    assert r.exit_code == 0 and "rabbitmqctl import_definitions" in r.output
    names = [u["name"] for u in json.loads((out / "definitions.json").read_text())["users"]]
    assert names == ["civic_hub", "kiosk-a", "kiosk-b"]
    conf = (out / "rabbitmq.conf").read_text()
    assert "mqtt.listeners.ssl.default = 8883" in conf      # TLS kept without --certfile again
    r = CliRunner().invoke(cli, ["kiosk", "revoke", "kiosk-a", "--broker-dir", str(out),
                                 "--db", db_path])
    assert r.exit_code == 0 and "rabbitmqctl delete_user kiosk-a" in r.output
    names = [u["name"] for u in json.loads((out / "definitions.json").read_text())["users"]]
    assert names == ["civic_hub", "kiosk-b"]
