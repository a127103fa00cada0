"""`civic demo` (what `make demo` runs): embedded broker, hub and 8 simulated kiosks; taps reach the
dashboard's API within seconds, and the printed staff login works."""
import json
import os
import re
import signal
import subprocess
import threading
import urllib.parse
import urllib.request

from tests.support.hubproc import CIVIC
from tests.support.procs import free_port, wait_until


def test_demo_runs_the_whole_system(tmp_path):
    port = free_port()
    db = str(tmp_path / "demo.db")
    proc = subprocess.Popen([CIVIC, "demo", "--port", str(port), "--db", db],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    out = []
    threading.Thread(target=lambda: [out.append(l) for l in proc.stdout], daemon=True).start()
    try:
        login = wait_until(lambda: re.search(r"Staff login: (\S+) / (\S+)", "".join(out)), 60)
        assert login, "".join(out)[-2000:]
        assert "http://127.0.0.1:%d/" % port in "".join(out)
        user, password = login.groups()

        def taps_via_api():
            r = subprocess.run([CIVIC, "token", "create", "--db", db], capture_output=True, text=True)
            tok = r.stdout.strip().splitlines()[-1]
            req = urllib.request.Request("http://127.0.0.1:%d/api/v1/summary" % port,
                                         headers={"Authorization": "Bearer " + tok})
            return json.loads(urllib.request.urlopen(req, timeout=5).read())["taps"]
        # Taps from several kiosks arrive within seconds of the hub being up.
        assert wait_until(lambda: taps_via_api() >= 5, 30, 0.5), "".join(out)[-2000:]

        # The printed login opens a staff session.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open("http://127.0.0.1:%d/login" % port, timeout=5).read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        form = {"username": user, "password": password}
        if csrf:
            form["csrf_token"] = csrf.group(1)
        data = urllib.parse.urlencode(form).encode()
        opener.open("http://127.0.0.1:%d/login" % port, data, timeout=5)
        summary = json.loads(opener.open("http://127.0.0.1:%d/api/v1/summary" % port, timeout=5).read())
        assert summary["taps"] >= 5 and summary["kiosks"]["total"] == 8

        # The question of the month was pushed to every kiosk, and every kiosk applied it.
        def applied():
            qs = json.loads(opener.open("http://127.0.0.1:%d/api/v1/questions" % port,
                                        timeout=5).read())["questions"]
            return [(q["id"], q["applied"]) for q in qs]
        assert wait_until(lambda: applied() == [("q-safe-square", 8)], 30), applied()

        # A city worth looking at: a year of history, the map, offers with attendance, and
        # every kiosk's config carrying its district's offers (else the city's).
        def api(path):
            return json.loads(opener.open("http://127.0.0.1:%d%s" % (port, path), timeout=5).read())
        assert api("/api/v1/summary")["taps"] >= 40000
        trend = api("/api/v1/overview")["trend"]
        assert sum(1 for p in trend["points"] if p["taps"]) >= 12, trend  # not one dot
        skills = api("/api/v1/skills")
        assert sorted(d["district"] for d in skills["districts"]) == ["centre", "east", "north",
                                                                      "west"]
        assert skills["gaps"] and skills["city"]["eservices"]["attendance"] > 0
        assert len(api("/api/v1/offers")["offers"]) == 4
        assert 'class="chart map"' in opener.open("http://127.0.0.1:%d/skills" % port,
                                                   timeout=5).read().decode()
        from hub.store.connection import open_db
        d = open_db(db)
        cfgs = {k: json.loads(p) for k, p in d.execute("SELECT kiosk, payload FROM kiosk_configs")}
        dist = dict(d.execute("SELECT id, district FROM kiosks"))
        d.conn.close()
        assert len(cfgs) == 8 and all("eservices" in c["offers"] for c in cfgs.values())
        assert all(("basics" in c["offers"]) == (dist[k] == "north") for k, c in cfgs.items())

        # A firmware update from the dashboard: the demo's release, rolled out on Admin >
        # Firmware to one kiosk, which then reports the new version on Kiosk health.
        assert re.search(r"Firmware: +release 1\.0\.1 is ready", "".join(out)), "".join(out)
        page = opener.open("http://127.0.0.1:%d/admin/firmware" % port, timeout=5).read().decode()
        form = {"version": "1.0.1", "target": "kiosk", "kiosk": "demo-library-1"}
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if csrf:
            form["csrf_token"] = csrf.group(1)
        opener.open("http://127.0.0.1:%d/admin/firmware/rollout" % port,
                    urllib.parse.urlencode(form).encode(), timeout=5)

        def fw_of(kiosk):
            kiosks = api("/api/v1/kiosk-health?q=%s" % kiosk)["kiosks"]
            return [(k["fw"], (k["update"] or {}).get("state")) for k in kiosks]
        assert wait_until(lambda: fw_of("demo-library-1") == [("1.0.1", "confirmed")], 120), \
            fw_of("demo-library-1")
        assert fw_of("demo-station-3") == [("1.0.0", None)]   # the others were not offered it
        health = opener.open("http://127.0.0.1:%d/kiosks?q=demo-library-1" % port,
                             timeout=5).read().decode()
        assert "update to 1.0.1: confirmed" in health
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
