"""Processes of bench/ingest (see bench/ingest_bench.py): the simulated kiosks' publishers and the
three subscribers (bare baseline, naive insert, the hub's ingest), each run as
`ingest_bench.py --role NAME ...` so that every one has its own process and CPU account."""
import json
import os
import random
import sqlite3
import sys
import threading
import time

KIOSKS_PER_PUBLISHER = 50
T0 = 1795393090          # simulated start of the day's presses (Unix seconds)
# Share of messages that are backlog drains (2..50 taps); the rest carry the one tap just pressed.
BACKLOG_SHARE = float(os.environ.get("BENCH_BACKLOG_SHARE", "0.1"))


def messages(pub, taps_per_kiosk, phase, seed=1):
    """The messages of one publisher: its kiosks interleaved, seqs 1..taps_per_kiosk each.
    Press times follow a clock that moves on with every message, as in a real city: a live tap
    is pressed now; a backlog drain carries taps pressed since that kiosk's previous tap (during
    its outage); 1 tap in 100 has ts null (a kiosk that never learned the time)."""
    import protocol
    rnd = random.Random(seed * 1000 + pub)
    kiosks = ["%s-p%d-k%d" % (phase, pub, i) for i in range(KIOSKS_PER_PUBLISHER)]
    nxt = {k: 1 for k in kiosks}
    now = T0 + pub
    last = {k: now - 3600 for k in kiosks}
    out = []
    while kiosks:
        now += 1
        k = rnd.choice(kiosks)
        size = 1 if rnd.random() >= BACKLOG_SHARE else rnd.randint(2, 50)
        seqs = range(nxt[k], min(nxt[k] + size, taps_per_kiosk + 1))
        step = max(1, (now - last[k]) // len(seqs))
        taps = []
        for i, s in enumerate(seqs):
            ts = min(now, last[k] + step * (i + 1))
            tap = {"seq": s, "ts": ts if rnd.random() >= 0.01 else None}
            if s % 3:
                tap.update(kind="mood", value=s % 4 + 1, q="q-1")
            else:
                tap.update(kind="skill", value="work", q=None)
            taps.append(tap)
        last[k] = now
        out.append((protocol.topic(k, "taps"), protocol.encode_taps(1, taps)))
        nxt[k] = seqs[-1] + 1
        if nxt[k] > taps_per_kiosk:
            kiosks.remove(k)
    return out


def client(client_id="", clean=True, manual_ack=False):
    import paho.mqtt.client as mqtt
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                       clean_session=clean, manual_ack=manual_ack)


# -- child roles ---------------------------------------------------------------------------
def role_publish(a):
    msgs = messages(a.index, a.taps_per_kiosk, a.phase)
    done = threading.Event()
    acked = [0]

    def on_publish(c, u, mid, rc, props):
        acked[0] += 1
        if acked[0] == len(msgs):
            done.set()
    c = client()
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", a.port, keepalive=60)
    c.loop_start()
    time.sleep(max(0.0, a.start_at - time.time()))
    t0 = time.time()
    for topic, body in msgs:
        c.publish(topic, body, qos=1)
    done.wait(600)
    print("published %d messages in %.2f s" % (len(msgs), time.time() - t0), flush=True)
    c.disconnect()
    c.loop_stop()


def _report(n, last, t0):
    import resource
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("cpu_s self %.2f writer %.2f" % (me.ru_utime + me.ru_stime,
                                           kids.ru_utime + kids.ru_stime), flush=True)
    print("done %d %.6f %.6f" % (n, last, t0), flush=True)


def _go(a):
    """Drain mode: the session exists, the publishers run now; wait for the word to start."""
    print("ready", flush=True)
    if a.mode == "drain":
        sys.stdin.readline()


def _register(a):
    """Drain mode: create the persistent session and its subscription, then leave."""
    if a.mode != "drain":
        return
    c = client(a.cid, clean=False)
    subscribed = threading.Event()
    c.on_connect = lambda c, u, f, rc, p: c.subscribe("civic/v1/+/taps", 1)
    c.on_subscribe = lambda *args: subscribed.set()
    c.connect("127.0.0.1", a.port, keepalive=60)
    c.loop_start()
    subscribed.wait(10)
    c.disconnect()
    c.loop_stop()


def _forget(a, cid):
    """End a persistent session, or the broker would queue the next rounds' taps for it."""
    c = client(cid, clean=True)
    c.connect("127.0.0.1", a.port)
    c.disconnect()


def paho_subscriber(a, handle):
    """A plain paho QoS 1 subscriber; handle(msg) -> taps counted. Live: subscribes and says
    ready. Drain: registers its session first, and reads what was queued meanwhile."""
    _register(a)
    state = {"n": 0, "last": 0.0}
    done = threading.Event()

    def on_message(c, u, m):
        state["n"] += handle(m)
        state["last"] = time.time()
        if state["n"] >= a.expect:
            done.set()
    c = client(a.cid, clean=a.mode != "drain")
    c.on_message = on_message
    c.on_connect = lambda c, u, f, rc, p: (c.subscribe("civic/v1/+/taps", 1),
                                           a.mode == "live" and print("ready", flush=True))
    if a.mode == "drain":
        _go(a)
    t0 = time.time()
    c.connect("127.0.0.1", a.port, keepalive=60)
    c.loop_start()
    done.wait(a.timeout)
    c.disconnect()
    c.loop_stop()
    if a.mode == "drain":
        _forget(a, a.cid)
    return state, t0


def role_baseline(a):
    state, t0 = paho_subscriber(a, lambda m: m.payload.count(b'"seq"'))
    _report(state["n"], state["last"] or time.time(), t0)


def role_naive(a):
    """What a first attempt looks like: one transaction per message, default settings."""
    db = sqlite3.connect(a.db, check_same_thread=False)
    db.execute("CREATE TABLE IF NOT EXISTS taps (kiosk TEXT, seq INTEGER, ts INTEGER, kind TEXT, "
               "value, q TEXT, PRIMARY KEY (kiosk, seq))")
    db.commit()

    def handle(m):
        kiosk = m.topic.split("/")[2]
        taps = json.loads(m.payload)["taps"]
        for t in taps:
            db.execute("INSERT OR IGNORE INTO taps VALUES (?, ?, ?, ?, ?, ?)",
                       (kiosk, t["seq"], t["ts"], t["kind"], t["value"], t["q"]))
        db.commit()
        return len(taps)
    state, t0 = paho_subscriber(a, handle)
    _report(db.execute("SELECT count(*) FROM taps").fetchone()[0], state["last"], t0)


def role_hub(a):
    from hub.ingest.service import Ingest
    url = "mqtt://127.0.0.1:%d" % a.port
    if a.mode == "drain":   # the hub was running once (its session exists), now it is down
        ing = Ingest(a.db, url, client_id=a.cid, mode="process").start()
        while not ing.connected:
            time.sleep(0.01)
        time.sleep(0.2)
        ing.stop()
    ing = Ingest(a.db, url, client_id=a.cid, mode="process")
    ing.prepare()           # the writer process is up before the clock starts
    if a.mode == "drain":
        _go(a)
    t0 = time.time()
    ing.start()
    if a.mode == "live":
        while not ing.connected:
            time.sleep(0.01)
        time.sleep(0.2)     # subscription acknowledged
        print("ready", flush=True)
    end = time.time() + a.timeout
    while ing.metrics.taps_ingested < a.expect and time.time() < end:
        time.sleep(0.005)
    last = time.time()
    ing.stop()              # joins the writer process, so its CPU time is counted below
    _forget(a, a.cid)
    _report(ing.metrics.taps_ingested, last, t0)
    # Receipts (retained, QoS 1, coalesced per kiosk) are published by the batch loop inside
    # the measured time; counted here, all of them, those after the last commit included.
    print("redelivered %d batches %d commit_s %.2f receipts %d" % (
        ing.metrics.taps_duplicate, ing.metrics.batches, ing.metrics.batch_sum,
        ing.metrics.receipts_published), flush=True)


ROLES = {"publish": role_publish, "baseline": role_baseline, "naive": role_naive,
         "hub": role_hub}
