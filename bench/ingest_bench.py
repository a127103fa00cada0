"""bench/ingest: the hub's ingest against a bare subscriber and a naive one, same broker, same run.

Simulated kiosks publish taps through a real Mosquitto (hub/fleet/deploy/mosquitto.conf settings)
from PUBLISHERS concurrent processes (paho, QoS 1). Most messages carry one tap (a kiosk sends
each press at once); one in ten is a backlog drain of 2..50 taps (a kiosk back from an outage).
Subscribers, each in its own process and with a fresh stream of taps:
  baseline: a bare paho subscriber that only counts taps (what the broker path can deliver),
  hub:      hub.ingest.service.Ingest, exactly what `civic serve`/`civic ingest` run, counted
            when committed; afterwards lost/duplicates are checked against its database,
  naive:    per message, INSERT each tap and commit (default sqlite3 settings); 20,000 taps.
Two ways to run each, baseline and hub alternating for ROUNDS rounds (medians count):
  drain (the main figures): the subscriber's persistent session exists, the publishers send
        everything, then the subscriber connects and empties its queue; rate = taps / (last
        tap counted or committed - connect). This measures the subscriber, not the publishers.
  live: the subscriber reads while the publishers run; rate = taps / (last tap - publishers'
        common start). On a 2-core machine this also measures who wins the CPU.
Prints progress, then one JSON line. The processes themselves: bench/ingest_roles.py.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ingest_roles import BACKLOG_SHARE, KIOSKS_PER_PUBLISHER, ROLES  # noqa: E402

PUBLISHERS = 4
NAIVE_TAPS = 20000      # the naive subscriber gets a smaller stream: it is slow by design
NAIVE_MAX_S = 40
ROUNDS = 3              # baseline and hub rounds, alternated; medians are reported


# -- the orchestrator ----------------------------------------------------------------------
def child(args, **kw):
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
                            start_new_session=True, **kw)


def median(runs):
    return sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]


def publish(port, taps_per_kiosk, stream, start_at):
    pubs = [child(["--role", "publish", "--port", str(port), "--index", str(i),
                   "--taps-per-kiosk", str(taps_per_kiosk), "--phase", stream,
                   "--start-at", repr(start_at)]) for i in range(PUBLISHERS)]
    for p in pubs:
        p.stdout.read()
        p.wait()
    return time.time() - start_at


def phase(name, mode, port, taps_per_kiosk, tmp, timeout, rnd):
    """One subscriber against a fresh stream. live: subscribed while the publishers run, rate
    from their common start. drain: the taps are queued in its session first, rate from the
    moment it connects to the last tap counted/committed."""
    expect = PUBLISHERS * KIOSKS_PER_PUBLISHER * taps_per_kiosk
    tag = "%s-%s-%d" % (mode, name, rnd)
    db = os.path.join(tmp, tag + ".db")
    sub = child(["--role", name, "--mode", mode, "--cid", "bench-" + tag, "--port", str(port),
                 "--expect", str(expect), "--db", db, "--timeout", str(timeout)])
    line = sub.stdout.readline()
    if line.strip() != "ready":
        raise SystemExit("%s subscriber did not start: %r" % (name, line))
    start_at = time.time() + (1.0 if mode == "live" else 0.3)
    pub_s = publish(port, taps_per_kiosk, tag.replace("-", ""), start_at)
    if mode == "drain":
        sub.stdin.write("go\n")
        sub.stdin.flush()
    out = sub.stdout.read().split("\n")
    sub.wait()
    done = [l for l in out if l.startswith("done")][0].split()
    n, last, t0 = int(done[1]), float(done[2]), float(done[3])
    cpu = [l for l in out if l.startswith("cpu_s")][0].split()
    start = start_at if mode == "live" else t0
    rate = n / (last - start)
    extra = " ".join(l for l in out if l and not l.startswith("done"))
    print("  [%s %s %d] %d of %d taps in %.2f s: %.0f taps/s (published in %.2f s; %s)"
          % (mode, name, rnd + 1, n, expect, last - start, rate, pub_s, extra), flush=True)
    receipts = [l.split()[-1] for l in out if " receipts " in l]
    return {"taps": n, "expect": expect, "rate": rate, "db": db,
            "cpu_self": float(cpu[2]), "cpu_writer": float(cpu[4]),
            "receipts": int(receipts[0]) if receipts else 0}


def check(hubs):
    """lost: sent, not stored; duplicates: counted more than once in the aggregates."""
    lost = dups = 0
    for h in hubs:
        db = sqlite3.connect(h["db"])
        stored = db.execute("SELECT count(*) FROM taps").fetchone()[0]
        counted = db.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0]
        gaps = db.execute("SELECT count(*) FROM seq_gaps").fetchone()[0]
        db.close()
        lost += h["expect"] - stored
        dups += counted - stored
        print("  [check] %s: %d distinct taps stored, aggregates count %d, open seq gaps %d"
              % (os.path.basename(h["db"]), stored, counted, gaps), flush=True)
    return lost, dups


def main():
    from tests.support.procs import Mosquitto
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--taps", type=int, default=100000, help="taps per baseline and hub round")
    a = ap.parse_args()
    per_kiosk = max(1, a.taps // (PUBLISHERS * KIOSKS_PER_PUBLISHER))
    naive_per_kiosk = max(1, min(per_kiosk, NAIVE_TAPS // (PUBLISHERS * KIOSKS_PER_PUBLISHER)))
    tmp = tempfile.mkdtemp(prefix="civic-bench-ingest-")
    extra = ["user root"] if os.geteuid() == 0 else []
    broker = Mosquitto(os.path.join(tmp, "broker"), extra=extra).start()
    print("mosquitto on port %d with hub/fleet/deploy/mosquitto.conf; %d publishers x %d kiosks, "
          "%d taps per round" % (broker.port, PUBLISHERS, KIOSKS_PER_PUBLISHER,
                                 per_kiosk * PUBLISHERS * KIOSKS_PER_PUBLISHER), flush=True)
    try:
        # Baseline and hub alternate and the medians count: the machine is shared, and someone
        # else's load spike during one short phase must not decide the ratio.
        runs = {}
        for mode in ("drain", "live"):
            for r in range(ROUNDS):
                for name in ("baseline", "hub"):
                    runs.setdefault((mode, name), []).append(
                        phase(name, mode, broker.port, per_kiosk, tmp, 120, r))
        naive = phase("naive", "drain", broker.port, naive_per_kiosk, tmp, NAIVE_MAX_S, 0)
        hubs = runs[("drain", "hub")] + runs[("live", "hub")]
        lost, dups = check(hubs)
        base, hub = median(runs[("drain", "baseline")]), median(runs[("drain", "hub")])
        lbase, lhub = median(runs[("live", "baseline")]), median(runs[("live", "hub")])
        result = {
            "taps": sum(h["expect"] for h in hubs), "lost": lost, "duplicates": dups,
            "baseline_rate": round(base["rate"]), "hub_rate": round(hub["rate"]),
            "naive_rate": round(naive["rate"]),
            "hub_vs_baseline": round(hub["rate"] / base["rate"], 3),
            "hub_vs_naive": round(hub["rate"] / naive["rate"], 1),
            # The same with the subscriber reading while the 4 publishers run on the same cores.
            "live_baseline_rate": round(lbase["rate"]), "live_hub_rate": round(lhub["rate"]),
            "live_hub_vs_baseline": round(lhub["rate"] / lbase["rate"], 3),
            "rounds": ROUNDS, "taps_per_round": hubs[0]["expect"], "publishers": PUBLISHERS,
            "kiosks": PUBLISHERS * KIOSKS_PER_PUBLISHER, "naive_taps": naive["taps"],
            "backlog_share": BACKLOG_SHARE,
            # CPU seconds of each subscriber process in its drain phase (medians): the hub's
            # network side against the bare subscriber, and the hub's writer process on top.
            "baseline_cpu_s": base["cpu_self"], "hub_network_cpu_s": hub["cpu_self"],
            "hub_writer_cpu_s": hub["cpu_writer"],
            # Receipts the hub published (retained, QoS 1, coalesced per kiosk), in the median
            # drain round and in all hub rounds together.
            "hub_receipts": hub["receipts"],
            "hub_receipts_total": sum(h["receipts"] for h in hubs),
        }
        print(json.dumps(result), flush=True)
    finally:
        broker.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if "--role" in sys.argv:
        ap = argparse.ArgumentParser()
        for opt, typ in (("--role", str), ("--mode", str), ("--cid", str), ("--port", int),
                         ("--expect", int), ("--db", str), ("--timeout", float),
                         ("--index", int), ("--taps-per-kiosk", int), ("--phase", str),
                         ("--start-at", float)):
            ap.add_argument(opt, type=typ)
        a = ap.parse_args()
        ROLES[a.role](a)
    else:
        main()
