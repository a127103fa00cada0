"""bench/fleet: a city's kiosks connected at once over TLS, the hub's ingest behind the broker.

KIOSKS simulated kiosks (default 5,000) connect over TLS (mqtts://, a throwaway CA made with
openssl) with their own accounts to a Mosquitto set up by the real `civic broker config`
(ACL, passwords, TLS listener); the hub is the real `civic ingest`, on the broker's hub listener.
Once every kiosk is connected, each one, for SECONDS:
  - publishes its retained status at QoS 1 every minute (first one at a random moment),
  - taps at random (Poisson), one every TAP_EVERY seconds on average (default 20 s: about
    three times a busy library hour), each tap one QoS 1 taps message, as the firmware sends a
    press at once, and keeps it until the hub's receipt covers it (resent after a reconnect),
  - subscribes to its config (QoS 1) and receipt (QoS 0), as the firmware does
(bench/fleet_kiosks.py, one process per core, each thousands of bench/mqtt_lite.py clients).
Then the kiosks wait for the receipts of everything they sent. Reported (last line, JSON):
kiosks (connected at once), taps (PUBACKed by the broker), lost (PUBACKed and not in the hub's
database), duplicates (counted more than once in the aggregates), hub_cpu_s and broker_cpu_s
(user + system CPU of the hub's process group and of the broker, from the first connection to
the last receipt). With RabbitMQ installed (rabbitmq-server, as `make test` installs it), the
same run against a three-node RabbitMQ cluster on loopback (`civic broker config --kind
rabbitmq`), the kiosks spread over the nodes, under "rabbitmq".

What this leaves unexercised (the kiosks are bench/mqtt_lite.py, not MicroPython): the
firmware's flash queue and its timing, its batching of a backlog (up to 50 taps a message), its
TLS stack (mbedTLS on the Pico W) and Wi-Fi; the test suite covers those with real sims.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.support.certs import make_certs  # noqa: E402  (the tests' throwaway CA, as bench/firmware)

HERE = os.path.dirname(os.path.abspath(__file__))

BIN = os.path.join(ROOT, ".venv", "bin")
HUB_ID = "civic-hub-fleet"

# -- the orchestrator ------------------------------------------------------------------------
def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def provision_all(db_path, n):
    """n kiosk accounts at once (the fields `civic kiosk provision` writes, in one
    transaction: one call per kiosk takes a minute for 5,000). -> {id: password}."""
    from hub.fleet import broker_config, provision, rabbitmq_config
    from hub.store.connection import open_db
    db = open_db(db_path)
    creds, now = {}, int(time.time())
    for i in range(n):
        creds["fleet-%05d" % i] = provision.new_password()
    with db.conn:
        db.conn.executemany("INSERT INTO kiosks (id, district) VALUES (?, 'north')",
                            [(k,) for k in creds])
        db.conn.executemany(
            "INSERT INTO mqtt_accounts (username, role, kiosk, pw_hash, rabbit_hash, created) "
            "VALUES (?, 'kiosk', ?, ?, ?, ?)",
            [(k, k, broker_config.mosquitto_hash(p), rabbitmq_config.rabbit_hash(p), now)
             for k, p in creds.items()])
    db.conn.close()
    return creds


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=30):
    import socket
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def cpu_s(pids):
    """User + system CPU seconds of these processes and of their children they waited for."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in f[11:15])
    return total / tick


def group(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getpgid(int(d)) == pgid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def start_hub(db, url, user, password, log, ca=None):
    cmd = [os.path.join(BIN, "civic"), "ingest", "--broker", url, "--user", user, "--password",
           password, "--db", db, "--client-id", HUB_ID] + (["--ca", ca] if ca else [])
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                         start_new_session=True)
    end = time.time() + 60
    while time.time() < end:
        if "event=connected" in open(log, errors="replace").read():
            return p
        if p.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit("the hub did not connect:\n" + open(log, errors="replace").read()[-3000:])


def kill(p):
    if p and p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(15)


def run_fleet(name, args, tmp, creds, ports, ca, hub_proc, broker_pids, db):
    """Loaders connect every kiosk, then traffic for args.seconds, then the check."""
    ids = sorted(creds)
    per = (len(ids) + args.loaders - 1) // args.loaders
    cred_file = os.path.join(tmp, "creds.json")
    json.dump(creds, open(cred_file, "w"))
    loaders = []
    for i in range(args.loaders):
        out = os.path.join(tmp, "%s-acked-%d.json" % (name, i))
        cmd = [sys.executable, os.path.join(HERE, "fleet_kiosks.py"), "--creds",
               cred_file, "--first", str(i * per), "--count", str(per), "--ports",
               ",".join(map(str, ports)), "--ca", ca, "--out", out,
               "--tap-every", str(args.tap_every), "--status-every", str(args.status_every),
               "--drain-timeout", str(args.drain_timeout)]
        loaders.append((subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, start_new_session=True), out))
    hub_pids = lambda: group(hub_proc.pid)  # noqa: E731 (its writer child too)
    cpu0 = (cpu_s(hub_pids()), cpu_s(broker_pids))
    t0 = time.time()
    ready = 0
    for p, _ in loaders:
        for line in p.stdout:
            if line.startswith("ready"):
                got, secs, failed = line.split()[1:]
                ready += int(got)
                print("  [%s] loader ready: %s kiosks connected in %s s, %s failed"
                      % (name, got, secs, failed), flush=True)
                break
            print("  [%s] %s" % (name, line.strip()), flush=True)
    connect_s = time.time() - t0
    cpu_connect = (cpu_s(hub_pids()) - cpu0[0], cpu_s(broker_pids) - cpu0[1])
    print("  [%s] %d kiosks connected over TLS in %.1f s; traffic for %d s" % (
        name, ready, connect_s, args.seconds), flush=True)
    end = time.time() + args.seconds
    for p, _ in loaders:
        if p.poll() is not None:
            raise SystemExit("[%s] a kiosk loader ended before the traffic (see above)" % name)
        p.stdin.write("go %r\n" % end)
        p.stdin.flush()
    stats = []
    for p, out in loaders:
        for line in p.stdout:
            if line.startswith("done"):
                stats.append(json.loads(line[5:]))
            elif line.strip():
                print("  [%s] %s" % (name, line.strip()), flush=True)
        p.wait()
    cpu1 = (cpu_s(hub_pids()) - cpu0[0], cpu_s(broker_pids) - cpu0[1])
    acked = {}
    for _, out in loaders:
        acked.update(json.load(open(out)))
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    stored = {}
    for kid, seq in c.execute("SELECT kiosk, seq FROM taps"):
        stored.setdefault(kid, set()).add(seq)
    counted = c.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0]
    n_stored = sum(len(v) for v in stored.values())
    c.close()
    lost = sum(len(set(seqs) - stored.get(kid, set())) for kid, seqs in acked.items())
    r = {"kiosks": sum(s["connected_at_go"] for s in stats), "taps": sum(len(v) for v in acked.values()),
         "lost": lost, "duplicates": counted - n_stored,
         "hub_cpu_s": round(cpu1[0], 1), "broker_cpu_s": round(cpu1[1], 1),
         "connect_s": round(connect_s, 1), "hub_cpu_connect_s": round(cpu_connect[0], 1),
         "broker_cpu_connect_s": round(cpu_connect[1], 1), "seconds": args.seconds,
         "sent": sum(s["sent"] for s in stats),
         "unreceipted": sum(s["unreceipted"] for s in stats),
         "reconnects": sum(s["reconnects"] for s in stats),
         "connect_failed": sum(s["failed"] for s in stats)}
    print("  [%s] %s" % (name, json.dumps(r)), flush=True)
    return r


def mosquitto_run(args, tmp, ca, crt, key):
    from hub.fleet import provision
    db = os.path.join(tmp, "mosquitto-hub.db")
    creds = provision_all(db, args.kiosks)
    bdir = tempfile.mkdtemp(prefix="civic-fleet-broker-")   # reachable by the mosquitto account
    port, hub_port = free_port(), free_port()
    report = json.loads(provision.write_broker_config(db, bdir, port, hub_port=hub_port,
                                                      certfile=crt, keyfile=key))
    broker = hub = None
    try:
        blog = open(os.path.join(tmp, "mosquitto.log"), "ab")
        broker = subprocess.Popen(["mosquitto", "-c", os.path.join(bdir, "mosquitto.conf")],
                                  stdout=blog, stderr=subprocess.STDOUT, start_new_session=True)
        if not (wait_port(port) and wait_port(hub_port)):
            raise SystemExit("mosquitto did not start")
        limit = open("/proc/%d/limits" % broker.pid).read()
        nofile = [ln for ln in limit.splitlines() if ln.startswith("Max open files")]
        print("  [mosquitto] started, %s" % " ".join(nofile[0].split()[:5]), flush=True)
        hub = start_hub(db, "mqtt://127.0.0.1:%d" % hub_port, report["hub"]["username"],
                        report["hub"]["password"], os.path.join(tmp, "hub-mosquitto.log"))
        return run_fleet("mosquitto", args, tmp, creds, [port], ca, hub, [broker.pid], db)
    finally:
        kill(hub)
        kill(broker)
        shutil.rmtree(bdir, ignore_errors=True)


def rabbitmq_run(args, tmp, ca, crt, key):
    from tests.support.rabbit import RabbitSetup, installed
    if not installed():
        print("  [rabbitmq] rabbitmq-server not installed: skipped (make test installs it)",
              flush=True)
        return None
    db = os.path.join(tmp, "rabbit-hub.db")
    n = args.rabbitmq_kiosks or args.kiosks
    creds = provision_all(db, n)
    print("  [rabbitmq] %d kiosks" % n, flush=True)
    work = os.path.join(tmp, "rabbit")
    os.makedirs(work)
    s = RabbitSetup(work, sorted(creds), tls=(crt, key), db=db,
                    creds={k: {"password": p} for k, p in creds.items()})
    hub = None
    try:
        t = time.time()
        s.start()
        print("  [rabbitmq] three nodes clustered in %.0f s" % (time.time() - t), flush=True)
        hub = start_hub(db, s.url_list(0), s.hub["username"], s.hub["password"],
                        os.path.join(tmp, "hub-rabbitmq.log"), ca=ca)
        pids = [p.pid for p in s.cluster.procs]
        return run_fleet("rabbitmq", args, tmp, creds, s.cluster.mqtt_ports, ca, hub,
                         [q for p in pids for q in group(p)], db)
    finally:
        kill(hub)
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiosks", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=120, help="traffic time once all are in")
    ap.add_argument("--tap-every", type=float, default=20.0,
                    help="mean seconds between one kiosk's taps")
    ap.add_argument("--status-every", type=float, default=60.0)
    ap.add_argument("--loaders", type=int, default=2, help="kiosk processes")
    ap.add_argument("--drain-timeout", type=float, default=90.0)
    ap.add_argument("--broker", choices=["both", "mosquitto", "rabbitmq"], default="both")
    ap.add_argument("--rabbitmq-kiosks", type=int, default=None,
                    help="kiosks for the RabbitMQ run [default: 1,000 with --broker both, so "
                         "the whole bench takes minutes; else --kiosks]. RabbitMQ 3.10's "
                         "three nodes on two cores take minutes to connect 5,000 (BENCHMARKS.md)")
    args = ap.parse_args()
    if args.rabbitmq_kiosks is None and args.broker == "both":
        args.rabbitmq_kiosks = min(1000, args.kiosks)
    nofile = raise_nofile()
    print("bench/fleet: %d kiosks over TLS, %d s of traffic, a tap every %.0f s per kiosk, "
          "a status every %.0f s; open files limit %d" % (
              args.kiosks, args.seconds, args.tap_every, args.status_every, nofile), flush=True)
    if nofile < args.kiosks + 200:
        raise SystemExit("the open files limit (%d) is below %d kiosks: raise it (ulimit -n)"
                         % (nofile, args.kiosks))
    tmp = tempfile.mkdtemp(prefix="civic-fleet-")
    try:
        ca, crt, key = make_certs(tmp)
        result = {}
        if args.broker in ("both", "mosquitto"):
            result = mosquitto_run(args, tmp, ca, crt, key)
        if args.broker in ("both", "rabbitmq"):
            r = rabbitmq_run(args, tmp, ca, crt, key)
            if args.broker == "rabbitmq":
                result = r or {}
            else:
                result["rabbitmq"] = r
        print(json.dumps(result), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
