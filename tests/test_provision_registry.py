"""Provisioning and broker files without a broker: the registry, the CLI, the file formats."""
import pytest
import json
import os
import subprocess

from click.testing import CliRunner

from hub.fleet import broker_config, provision
from hub.cli import cli
from hub.store.connection import connect


def stored_hash(db, kiosk):
    return db.execute("SELECT pw_hash FROM mqtt_accounts WHERE kiosk = ?", [kiosk]).fetchone()[0]


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_provision_prints_credentials_once_and_stores_only_a_hash(db_path):
    r = run("kiosk", "provision", "lib-north-1", "--district", "North", "--db", db_path)
    assert r.exit_code == 0, r.output
    creds = json.loads(r.output)
    assert creds["username"] == "lib-north-1" and creds["kiosk"] == "lib-north-1"
    assert len(creds["password"]) >= 20 and creds["district"] == "North"
    db = connect(db_path)
    assert db.execute("SELECT district FROM kiosks WHERE id = 'lib-north-1'").fetchone() \
        == ("North",)
    dump = "\n".join(db.conn.iterdump())
    assert creds["password"] not in dump  # the password itself is nowhere in the database
    pw_hash = stored_hash(db, "lib-north-1")
    assert broker_config.check_mosquitto_hash(pw_hash, creds["password"])
    # A second provision is refused: the password was shown once and cannot be shown again.
    again = CliRunner().invoke(cli, ["kiosk", "provision", "lib-north-1", "--db", db_path])
    assert again.exit_code == 1 and "already provisioned" in again.output
    assert "--rotate" in again.output
    # --rotate issues a new one; the district stays when not given.
    rotated = json.loads(run("kiosk", "provision", "lib-north-1", "--rotate",
                             "--db", db_path).output)
    assert rotated["password"] != creds["password"] and rotated["district"] == "North"
    pw_hash = stored_hash(db, "lib-north-1")
    assert not broker_config.check_mosquitto_hash(pw_hash, creds["password"])
    assert broker_config.check_mosquitto_hash(pw_hash, rotated["password"])


def test_bad_ids_and_unknown_kiosks_are_clear_errors(db_path):
    for bad in ("Lib-North", "-x", "a" * 33, "lib_north", "civic_hub", ""):
        r = CliRunner().invoke(cli, ["kiosk", "provision", "--db", db_path, "--", bad])
        assert r.exit_code != 0 and "bad kiosk id" in r.output, (bad, r.output)
    r = CliRunner().invoke(cli, ["kiosk", "revoke", "ghost", "--db", db_path])
    assert r.exit_code == 1 and "never provisioned" in r.output
    r = CliRunner().invoke(cli, ["kiosk", "provision", "ghost", "--rotate", "--db", db_path])
    assert r.exit_code == 1 and "not provisioned yet" in r.output


def test_broker_config_files_hub_password_once_and_revoke(db_path, tmp_path):
    a = json.loads(provision.provision_kiosk(db_path, "kiosk-a"))
    provision.provision_kiosk(db_path, "kiosk-b")
    out = tmp_path / "broker"
    first = json.loads(run("broker", "config", "--dir", str(out), "--port", "18999",
                           "--db", db_path).output)
    assert first["hub"]["username"] == "civic_hub" and first["hub"]["password"]
    assert (first["username"], first["password"]) == ("civic_hub", first["hub"]["password"])
    assert first["kiosks"] == 2 and first["port"] == 18999 and first["hub_port"] == 19000
    conf = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "persistence true" in conf
    assert "persistence_location %s/" % out in conf and "listener 18999\n" in conf
    passwd = dict(l.split(":", 1) for l in (out / "passwd").read_text().split())
    assert set(passwd) == {"civic_hub", "kiosk-a", "kiosk-b"}
    assert broker_config.check_mosquitto_hash(passwd["civic_hub"], first["hub"]["password"])
    assert broker_config.check_mosquitto_hash(passwd["kiosk-a"], a["password"])
    acl = (out / "acl").read_text()
    assert ("user kiosk-a\ntopic write civic/v1/kiosk-a/taps\n"
            "topic write civic/v1/kiosk-a/status\ntopic write civic/v1/kiosk-a/fetch\n"
            "topic read civic/v1/kiosk-a/config\ntopic read civic/v1/kiosk-a/receipt\n"
            "topic read civic/v1/kiosk-a/update\ntopic read civic/v1/kiosk-a/chunk\n") in acl
    assert oct(os.stat(out / "passwd").st_mode & 0o777) == "0o600"
    # Later runs reuse the hub's hash (same password works) and keep the ports.
    second = json.loads(run("broker", "config", "--dir", str(out), "--db", db_path).output)
    assert "password" not in second["hub"] and "password" not in second
    assert second["port"] == 18999
    passwd2 = dict(l.split(":", 1) for l in (out / "passwd").read_text().split())
    assert passwd2["civic_hub"] == passwd["civic_hub"]
    # Provisioning straight into the broker files (stdout stays the credentials JSON alone).
    r = CliRunner().invoke(cli, ["kiosk", "provision", "kiosk-c", "--broker-dir", str(out),
                                 "--db", db_path])
    c = json.loads(r.stdout)
    passwd3 = dict(l.split(":", 1) for l in (out / "passwd").read_text().split())
    assert broker_config.check_mosquitto_hash(passwd3["kiosk-c"], c["password"])
    assert "no running broker" in r.stderr
    r = CliRunner().invoke(cli, ["kiosk", "provision", "kiosk-d", "--broker-dir",
                                 str(tmp_path / "nowhere"), "--db", db_path])
    assert r.exit_code == 1 and "run `civic broker config --dir" in r.output
    # Revoked kiosks leave both files; nothing is reloaded when no broker runs from DIR.
    msg = run("kiosk", "revoke", "kiosk-a", "--broker-dir", str(out), "--db", db_path).output
    assert "kiosk kiosk-a revoked" in msg and "no running broker" in msg
    assert "kiosk-a" not in (out / "passwd").read_text()
    acl = (out / "acl").read_text()
    assert "kiosk-a" not in acl and "user kiosk-b" in acl
    assert "already revoked" in run("kiosk", "revoke", "kiosk-a", "--db", db_path).output
    rotated = json.loads(run("broker", "config", "--dir", str(out), "--rotate-hub",
                             "--db", db_path).output)
    assert rotated["hub"]["password"] != first["hub"]["password"]


def test_hash_format_is_mosquittos_own():
    # mosquitto_passwd (Debian's mosquitto package) makes a hash our checker accepts, and ours
    # has the same shape; the real broker accepting ours is shown in test_provision_acl.py.
    import tempfile
    with tempfile.NamedTemporaryFile("w+", suffix=".pw") as f:
        subprocess.run(["mosquitto_passwd", "-b", f.name, "someone", "s3cret pass"], check=True)
        theirs = open(f.name).read().strip().split(":", 1)[1]
    assert theirs.startswith("$7$101$")
    assert broker_config.check_mosquitto_hash(theirs, "s3cret pass")
    assert not broker_config.check_mosquitto_hash(theirs, "s3cret pas")
    ours = broker_config.mosquitto_hash("s3cret pass")
    assert [len(p) for p in ours.split("$")] == [len(p) for p in theirs.split("$")]


def test_shipped_lossless_settings_are_carried_over(tmp_path, monkeypatch):
    shipped = tmp_path / "deploy.conf"
    shipped.write_text("# why\nmax_queued_messages 0\nlistener 1883\nallow_anonymous true\n"
                       "log_dest file /var/log/x.log\npersistence true\n")
    monkeypatch.setattr(broker_config, "DEPLOY_CONF", str(shipped))
    lines = broker_config.deploy_lines(str(shipped))
    assert lines == ["# why", "max_queued_messages 0", "persistence true"]
    monkeypatch.setattr(broker_config, "deploy_lines", lambda: lines)
    text = broker_config.conf_text(str(tmp_path), 1883, 0, 1884, "127.0.0.1")
    assert "allow_anonymous true" not in text and "max_queued_messages 0" in text


def test_ids_of_the_hubs_own_clients_are_refused(tmp_path):
    from hub.fleet.provision import provision_kiosk
    db_path = str(tmp_path / "civic.db")
    for kid in ("civic-hub", "civic-ingest-1"):
        with pytest.raises(ValueError, match="reserved"):
            provision_kiosk(db_path, kid)


def test_moving_a_kiosk_on_reprovision_moves_its_counted_history(tmp_path):
    from hub.fleet.provision import provision_kiosk
    from hub.store.connection import open_db
    from hub.store.taps import store
    db_path = str(tmp_path / "civic.db")
    provision_kiosk(db_path, "lib-1", "north")
    db = open_db(db_path)
    store(db, [("lib-1", {"boot": 1, "taps": [
        {"seq": 1, "ts": 1795393090, "kind": "mood", "value": 4, "q": None}]})])
    provision_kiosk(db_path, "lib-1", "south", rotate=True)
    scopes = dict(db.execute("SELECT scope, sum(n) FROM agg_day WHERE scope LIKE 'd:%' "
                             "GROUP BY scope").fetchall())
    assert scopes == {"d:south": 1}
