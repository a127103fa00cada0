"""A Mosquitto set up by the real `civic broker config` for a registry of provisioned kiosks."""
import json
import os
import shutil
import signal
import subprocess
import tempfile

from hub.fleet import provision
from tests.support.procs import free_port, mosquitto_exe, port_open, wait_until


class RegistryBroker:
    """Kiosks a and b provisioned, broker files written by the real command, Mosquitto started
    with exactly `mosquitto -c DIR/mosquitto.conf`."""

    def __init__(self, db_path, kiosks=("kiosk-a", "kiosk-b"), tls=None):
        self.db = db_path
        self.creds = {k: json.loads(provision.provision_kiosk(db_path, k, "north"))
                      for k in kiosks}
        self.a = self.creds.get("kiosk-a")
        self.b = self.creds.get("kiosk-b")
        # Started as root, Mosquitto drops to the `mosquitto` account: its folder must be
        # reachable by it, which pytest's 0700 tmp root is not; /tmp is.
        self.dir = tempfile.mkdtemp(prefix="civic-broker-")
        self.port, hub_port = free_port(), free_port()
        report = json.loads(provision.write_broker_config(
            db_path, self.dir, self.port, hub_port=hub_port,
            certfile=tls and tls[0], keyfile=tls and tls[1]))
        assert report["warnings"] == []
        self.hub = report["hub"]
        self.hub_port = hub_port
        self.proc = None
        self.log = None

    @property
    def url(self):
        return "mqtt://127.0.0.1:%d" % self.port

    def start(self):
        self.log = open(os.path.join(self.dir, "test.log"), "a")
        self.proc = subprocess.Popen([mosquitto_exe(), "-c", self.dir + "/mosquitto.conf"],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        assert wait_until(lambda: port_open(self.port) and port_open(self.hub_port), 10), \
            open(self.log.name).read()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self.log:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
