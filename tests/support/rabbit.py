"""A real three-node RabbitMQ cluster on loopback, started by a test (Debian's rabbitmq-server,
installed by scripts/system-deps; never the system service).

Every node is its own Erlang VM with its own name (civicN-<tag>@localhost), ports, data and log
folders in the test's temporary folder, and its own epmd port (ERL_EPMD_PORT), so clusters of
tests running side by side (pytest-xdist) never meet. The nodes share an Erlang cookie through a
HOME of their own (the CLI tools read $HOME/.erlang.cookie too). They start from the
rabbitmq.conf and definitions.json `civic broker config --kind rabbitmq` writes, with only the
listener ports replaced, and find each other by classic peer discovery.

kill(i) is a crash (SIGKILL to the node's process group: its VM and helpers); stop(i) a clean
stop (rabbitmqctl stop); start(i) boots a node again on the same data, and it rejoins.
"""
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time

from tests.support.procs import free_port, port_open, wait_until

RMQ_BIN = "/usr/lib/rabbitmq/bin"
BOOT_S = 90


def installed():
    return os.path.exists(os.path.join(RMQ_BIN, "rabbitmq-server"))


def require():
    if not installed():
        raise RuntimeError("rabbitmq-server is not installed: run `make test` (scripts/system-deps "
                           "installs it)")


class Cluster:
    def __init__(self, workdir, conf_dir, size=3):
        """conf_dir: where `civic broker config --kind rabbitmq` wrote its files."""
        require()
        self.dir = str(workdir)
        self.conf_dir = str(conf_dir)
        self.tag = secrets.token_hex(3)
        self.epmd = free_port()
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        cookie = os.path.join(self.home, ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write(secrets.token_hex(16).upper())
        os.chmod(cookie, 0o400)
        self.names = ["civic%d-%s@localhost" % (i + 1, self.tag) for i in range(size)]
        self.mqtt_ports = [free_port() for _ in range(size)]
        self.amqp_ports = [free_port() for _ in range(size)]
        self.dist_ports = [free_port() for _ in range(size)]
        self.procs = [None] * size
        self.logs = [os.path.join(self.dir, "node%d.out" % (i + 1)) for i in range(size)]
        base = open(os.path.join(self.conf_dir, "rabbitmq.conf")).read()
        self.tls = "mqtt.listeners.ssl.default" in base
        for i in range(size):
            self._write_conf(i, base)

    def _write_conf(self, i, base):
        # No node imports definitions.json at boot here: three nodes importing thousands of
        # accounts at once took minutes on two cores, and a node's import is lost when it then
        # joins a cluster another node formed. RabbitSetup imports it once the cluster stands,
        # as docs/SCALING.md tells the operator to.
        drop = r"(mqtt\.listeners\.|listeners\.|cluster_formation\.|load_definitions)"
        lines = [ln for ln in base.splitlines() if not re.match(drop, ln)]
        kind = "ssl" if self.tls else "tcp"
        lines += ["mqtt.listeners.%s.default = 127.0.0.1:%d" % (kind, self.mqtt_ports[i]),
                  "listeners.tcp.default = 127.0.0.1:%d" % self.amqp_ports[i],
                  "cluster_formation.peer_discovery_backend = classic_config"]
        lines += ["cluster_formation.classic_config.nodes.%d = %s" % (j + 1, n)
                  for j, n in enumerate(self.names)]
        # A test cluster: quick to decide a peer is gone, no wait for a disk-full check.
        lines += ["disk_free_limit.absolute = 50MB", "cluster_partition_handling = ignore"]
        if self.tls:
            lines.append("mqtt.listeners.tcp = none")
        d = os.path.join(self.dir, "n%d" % (i + 1))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(d, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_mqtt].\n")

    def env(self, i):
        d = os.path.join(self.dir, "n%d" % (i + 1))
        e = dict(os.environ)
        e.update({
            "HOME": self.home, "ERL_EPMD_PORT": str(self.epmd), "ERL_EPMD_ADDRESS": "127.0.0.1",
            # So that close() can end the epmd the first node started, names registered or not.
            "ERL_EPMD_RELAXED_COMMAND_CHECK": "1",
            "RABBITMQ_NODENAME": self.names[i],
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_ports[i]),
            "RABBITMQ_DIST_PORT": str(self.dist_ports[i]),
            "RABBITMQ_CONFIG_FILE": os.path.join(d, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": os.path.join(d, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(d, "log"),
            "RABBITMQ_PID_FILE": os.path.join(d, "node.pid"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(d, "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
        })
        e.pop("RABBITMQ_ERLANG_COOKIE", None)
        return e

    def start(self, i):
        out = open(self.logs[i], "ab")
        self.procs[i] = subprocess.Popen([os.path.join(RMQ_BIN, "rabbitmq-server")],
                                         env=self.env(i), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()

    def start_all(self):
        # One after the other: a node that joins while another is still booting can start the
        # MQTT plugin's client id tracking (a Raft cluster of its own) without its peers, and
        # then refuses every MQTT connection ("unavailable component"); seen on a busy machine.
        for i in range(len(self.names)):
            self.start(i)
            self.wait_up(i)
        self.wait_clustered()
        return self

    def wait_up(self, i, timeout=BOOT_S):
        if not wait_until(lambda: port_open(self.mqtt_ports[i]), timeout, 0.2):
            raise RuntimeError("RabbitMQ node %s did not open its MQTT port:\n%s"
                               % (self.names[i], self.tail(i)))
        r = self.ctl(i, "await_startup", "--timeout", str(timeout), timeout=timeout + 10)
        if r.returncode != 0:
            raise RuntimeError("RabbitMQ node %s did not finish booting: %s\n%s"
                               % (self.names[i], r.stderr, self.tail(i)))

    def ctl(self, i, *args, timeout=60):
        return subprocess.run([os.path.join(RMQ_BIN, "rabbitmqctl"), "-n", self.names[i]]
                              + list(args), env=self.env(i), capture_output=True, text=True,
                              timeout=timeout)

    def running_nodes(self, i=0):
        r = self.ctl(i, "eval", "rabbit_nodes:all_running().")
        return sorted(set(re.findall(r"civic\d-[0-9a-f]+@localhost", r.stdout)))

    def wait_clustered(self, timeout=BOOT_S, via=None):
        up = [j for j, p in enumerate(self.procs) if p and p.poll() is None]
        want = sorted(self.names[j] for j in up)
        got = wait_until(lambda: self.running_nodes(via if via is not None else up[0]) == want,
                         timeout, 0.5)
        if not got:
            raise RuntimeError("RabbitMQ nodes did not form a cluster (%s running, want %s):\n%s"
                               % (self.running_nodes(up[0]), want, self.tail(up[0])))

    def kill(self, i):
        p = self.procs[i]
        if p and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(10)

    def stop(self, i):
        """A clean stop, as an operator's rolling restart does."""
        r = self.ctl(i, "stop", timeout=120)
        p = self.procs[i]
        if p:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                self.kill(i)
        return r

    def close(self):
        for i in range(len(self.names)):
            self.kill(i)
        # epmd started by the first node lives on after it: end it (ours, on our own port).
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        subprocess.run([epmd, "-kill"], env=self.env(0), capture_output=True)

    def live(self):
        return next(j for j, p in enumerate(self.procs) if p and p.poll() is None)

    def queue_leader(self, name):
        """The node leading a quorum queue (e.g. the hub's), or None."""
        r = self.ctl(self.live(), "list_queues", "-p", "civic", "name", "leader", "--no-table-headers",
                     "--silent")
        for line in r.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == name and len(parts) > 1:
                return parts[1]
        return None

    def tail(self, i, n=40):
        try:
            with open(self.logs[i], errors="replace") as f:
                text = f.read().splitlines()[-n:]
        except OSError:
            text = []
        logdir = os.path.join(self.dir, "n%d" % (i + 1), "log")
        for name in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
            with open(os.path.join(logdir, name), errors="replace") as f:
                text += ["== " + name] + f.read().splitlines()[-n:]
        return "\n".join(text)

    def urls(self, scheme=None):
        scheme = scheme or ("mqtts" if self.tls else "mqtt")
        return ["%s://127.0.0.1:%d" % (scheme, p) for p in self.mqtt_ports]


class RabbitSetup:
    """Kiosks provisioned in a fresh hub database, `civic broker config --kind rabbitmq` run for
    them (the real command's code), and a three-node cluster booted from its files."""

    def __init__(self, workdir, kiosks, tls=None, db=None, creds=None):
        """db and creds: kiosks provisioned already (bench/fleet), {id: {"password": ...}}."""
        import json

        from hub.fleet import provision
        self.dir = str(workdir)
        self.db = db or os.path.join(self.dir, "hub.db")
        self.creds = creds or {k: json.loads(provision.provision_kiosk(self.db, k, "north"))
                               for k in kiosks}
        conf = os.path.join(self.dir, "rabbit-conf")
        report = json.loads(provision.write_rabbitmq_config(
            self.db, conf, certfile=tls and tls[0], keyfile=tls and tls[1]))
        assert report["kiosks"] == len(kiosks) and report["need_rotate"] == [], report
        self.hub = report["hub"]
        self.cluster = Cluster(os.path.join(self.dir, "cluster"), conf)

    def start(self):
        """Boot the cluster; once more on fresh ports if the first boot fails. Its 12 ports
        are picked free, then bound by the nodes seconds later: on a machine running other
        tests one of them can be taken meanwhile (seen about once in ten runs)."""
        for attempt in (1, 2):
            try:
                self.cluster.start_all()
                self.wait_definitions()
                return self
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                self.cluster.close()
                if attempt == 2:
                    raise
                sys.stderr.write("RabbitMQ cluster boot failed, trying on new ports: %s\n"
                                 % str(e)[-3000:])
                self.cluster = Cluster(os.path.join(self.dir, "cluster-2"),
                                       self.cluster.conf_dir)
            except BaseException:
                self.cluster.close()
                raise

    def wait_definitions(self, timeout=180):
        """Nodes open their MQTT port while they still import definitions.json (thousands of
        accounts take a while): until then logins fail. Its policy comes last in the import."""
        from hub.fleet.rabbitmq_config import KIOSK_QUEUES_POLICY, VHOST
        c = self.cluster
        # As the operator does once the cluster stands (docs/SCALING.md). The first node's boot
        # import may have gone with its data if it joined a cluster another node had formed.
        r = c.ctl(c.live(), "import_definitions",
                  os.path.join(c.conf_dir, "definitions.json"), timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("import_definitions failed: %s%s" % (r.stdout, r.stderr))
        c.ctl(c.live(), "delete_user", "guest")   # made by a node that booted without them

        def imported():
            r = c.ctl(c.live(), "list_policies", "-p", VHOST, "--silent", "--no-table-headers")
            return KIOSK_QUEUES_POLICY["name"] in r.stdout
        if not wait_until(imported, timeout, 0.5):
            raise RuntimeError("the cluster did not import definitions.json:\n" + c.tail(0))
        # And each node takes MQTT logins only once its share of the client id tracking (a
        # Raft cluster of its own) is up: log in as the hub on every node.
        for i, port in enumerate(c.mqtt_ports):
            if not wait_until(lambda: self._login(port), timeout, 0.5):
                raise RuntimeError("node %s refuses MQTT logins:\n%s" % (c.names[i], c.tail(i)))

    def _login(self, port):
        import ssl

        import paho.mqtt.client as mqtt
        p = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="civic-probe")
        p.username_pw_set(self.hub["username"], self.hub["password"])
        if self.cluster.tls:
            p.tls_set(cert_reqs=ssl.CERT_NONE)   # only "does it log in", not whom we reach
            p.tls_insecure_set(True)
        try:
            p.connect("127.0.0.1", port, 10)
            ok = []
            p.on_connect = lambda c, u, f, rc, pr: ok.append(not rc.is_failure)
            end = time.monotonic() + 5
            while not ok and time.monotonic() < end and p.loop(0.2) == mqtt.MQTT_ERR_SUCCESS:
                pass
            return ok == [True]
        except OSError:
            return False
        finally:
            p.disconnect()

    def url_list(self, first=0):
        """The nodes' URLs as a kiosk or the hub is given them, starting at node `first`."""
        u = self.cluster.urls()
        return ",".join(u[first:] + u[:first])

    def kiosk_args(self, kid):
        return ["--user", kid, "--password", self.creds[kid]["password"]]

    def close(self):
        self.cluster.close()
