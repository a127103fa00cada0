"""A list of broker addresses (the nodes of a cluster) for the hub and the kiosks: each moves on
to the next address when one is gone, and one address keeps working as before (issue 18).
Against real Mosquittos here; tests/test_rabbitmq_failover.py does it on a RabbitMQ cluster."""
import subprocess
import threading

import pytest

from hub.ingest.mqtt_link import parse_brokers
from hub.ingest.service import Ingest
from tests.support.kiosk import SimKiosk
from tests.support.procs import BIN, Mosquitto, free_port, wait_until


def test_parse_brokers():
    assert parse_brokers("mqtt://a:1,mqtt://b:2") == [("a", 1, False), ("b", 2, False)]
    assert parse_brokers("mqtts://a") == [("a", 8883, True)]
    with pytest.raises(ValueError, match="all mqtt:// or all mqtts://"):
        parse_brokers("mqtt://a:1,mqtts://b:2")
    with pytest.raises(ValueError, match="use mqtt://HOST:PORT"):
        parse_brokers("mqtt://a:1,http://b")


def test_sim_refuses_a_bad_address_in_the_list(tmp_path):
    r = subprocess.run([BIN + "/civic", "kiosk", "sim", "--dir", str(tmp_path), "--id", "k1",
                        "--broker", "mqtt://127.0.0.1:1,tcp://x:2"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "comma-separated" in r.stderr + r.stdout


def test_hub_and_kiosk_move_to_the_next_broker(tmp_path):
    """First address dead: both reach the second. Then the second dies and the first comes up:
    both move back, and every acked tap is counted once."""
    b1_port = free_port()
    b2 = Mosquitto(tmp_path / "b2").start()
    b1 = None
    urls = "mqtt://127.0.0.1:%d,%s" % (b1_port, b2.url)
    db = str(tmp_path / "hub.db")
    ing = Ingest(db, urls, client_id="civic-hub-list").start()
    k = SimKiosk(tmp_path / "k", "list-k", urls).start()
    try:
        assert wait_until(lambda: ing.connected, 30) and ing.link.port == b2.port
        k.wait_line(r"^log mqtt connected$", 60)
        k.send("press 0")
        k.wait_count("ack", 1)
        assert wait_until(lambda: k.stats()["queue"] == 0, 30), k.tail()
        b1 = Mosquitto(tmp_path / "b1", port=b1_port).start()
        since = len(k.lines)
        b2.kill()
        assert wait_until(lambda: ing.connected and ing.link.port == b1_port, 60)
        k.wait_line(r"^log mqtt connected$", 60, since=since)
        k.send("press 1", "press 2")
        k.wait_count("ack", 3)
        assert wait_until(lambda: k.stats()["queue"] == 0, 30), k.tail()
        import sqlite3
        c = sqlite3.connect(db)
        seqs = sorted(r[0] for r in c.execute("SELECT seq FROM taps WHERE kiosk = 'list-k'"))
        c.close()
        assert seqs == sorted(set(k.seqs("ack", all_runs=True)))
    finally:
        k.kill()
        t = threading.Thread(target=ing.stop, daemon=True)
        t.start()
        t.join(20)
        b2.kill()
        if b1:
            b1.kill()
