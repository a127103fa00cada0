"""mqtts:// with a CA certificate on the kiosk's flash, against a real Mosquitto TLS listener."""
import json

from tests.support.certs import make_certs
from tests.support.collector import Collector
from tests.support.kiosk import SimKiosk, install_into_image
from tests.support.procs import Mosquitto, free_port


def test_mqtts_with_ca_on_flash(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certs(certs, other_ca=True)
    tls_port = free_port()
    broker = Mosquitto(tmp_path / "broker", extra=[
        "listener %d 127.0.0.1" % tls_port, "cafile %s" % (certs / "ca.pem"),
        "certfile %s" % (certs / "server.crt"), "keyfile %s" % (certs / "server.key")]).start()
    col = Collector(broker.port).start()
    try:
        for name, ca in (("tls-1", "ca.pem"), ("tls-bad", "other.pem")):
            site = tmp_path / ("site-" + name)
            site.mkdir()
            (site / "ca.pem").write_bytes((certs / ca).read_bytes())
            (site / "settings.json").write_text(json.dumps({"ca": "ca.pem"}))
            install_into_image(str(tmp_path / name), str(site))
        url = "mqtts://localhost:%d" % tls_port
        with SimKiosk(tmp_path / "tls-1", "tls-1", url) as k:
            k.press(0)
            acks = k.wait_count("ack", 1)
            k.wait_count("sent", 1, timeout=30)
            assert col.wait_seqs("tls-1", acks) == []
        # A broker whose certificate the kiosk's CA did not sign is refused.
        with SimKiosk(tmp_path / "tls-bad", "tls-bad", url) as k:
            k.press(0)
            k.wait_count("ack", 1)
            k.wait_line(r"^log mqtt connect failed", timeout=30)
            assert k.seqs("sent") == [] and col.seqs("tls-bad") == []
    finally:
        col.stop()
        broker.kill()
