"""bench/fleet runs (a smoke test at 50 kiosks for a few seconds, Mosquitto only): its last line
is the JSON of its figures, and nothing is lost or counted twice. The 5,000-kiosk run is in
docs/BENCHMARKS.md, not in the suite."""
import json
import os
import subprocess

from tests.support.procs import ROOT


def test_bench_fleet_smoke():
    r = subprocess.run([os.path.join(ROOT, "bench", "fleet"), "--broker", "mosquitto",
                        "--kiosks", "50", "--seconds", "4", "--tap-every", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["kiosks"] == 50 and out["taps"] > 50, out
    assert out["lost"] == 0 and out["duplicates"] == 0 and out["unreceipted"] == 0, out
    assert out["hub_cpu_s"] > 0 and out["broker_cpu_s"] >= 0
