"""Shared fixtures. Fixtures of one area live in that area's test files or in tests/support/."""

import pytest

from tests.support.procs import Mosquitto


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free loopback port, with the shipped lossless settings."""
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.kill()


@pytest.fixture
def mq(tmp_path):
    """A real Mosquitto with the hub's lossless settings (hub/fleet/deploy/mosquitto.conf)."""
    from tests.support.ingest_tools import lossless_broker
    b = lossless_broker(tmp_path / "broker")
    yield b
    b.kill()


@pytest.fixture
def hubdb(tmp_path):
    return str(tmp_path / "hub.db")


@pytest.fixture
def reg(db_path):
    """A registry of provisioned kiosks and the Mosquitto `civic broker config` writes for it;
    reg.peer(...) connects an MQTT client that is closed at the end."""
    from tests.support.mqtt import Peer
    from tests.support.registry import RegistryBroker
    r = RegistryBroker(db_path).start()
    peers = []
    r.peer = lambda *a, **kw: peers.append(Peer(*a, **kw)) or peers[-1]
    yield r
    for p in peers:
        p.close()
    r.stop()


@pytest.fixture
def collector(broker):
    """A paho subscriber on the test broker that records every tap and status it sees."""
    from tests.support.collector import Collector
    c = Collector(broker.port).start()
    yield c
    c.stop()


@pytest.fixture
def app(tmp_path):
    from hub import create_app
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "civic.db"),
                      "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_path(app):
    return app.config["DATABASE"]


@pytest.fixture(autouse=True)
def _no_ambient_db(monkeypatch):
    # A test never touches a developer's real civic.db through $CIVIC_DB.
    monkeypatch.delenv("CIVIC_DB", raising=False)
    yield



# The RabbitMQ cluster tests boot one three-node cluster per module (about a minute on two
# cores): each of those modules runs whole on one pytest-xdist worker, so its module fixture
# boots once; every other test is spread one by one, as `-n` does by default. (xdist's own
# `--dist loadgroup` does not group under this pytest: its renamed node ids do not stick.)
ONE_WORKER_MODULES = ("tests/test_rabbitmq_acl.py", "tests/test_rabbitmq_failover.py")


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WholeModules(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return path if path in ONE_WORKER_MODULES else nodeid
    return WholeModules(config, log)
