"""The firmware's MQTT client on real MicroPython against a real Mosquitto: publishes issued from
several tasks at once (a status heartbeat while a batch of taps goes out) each reach the broker as
one well-formed packet. A regression test: the client once filled its shared packet buffer before
taking the write lock, so a second publish overwrote the first's bytes and the broker dropped the
connection as malformed (seen with `max_queued_messages 0`, the contract harness's setting)."""
import os
import subprocess

from tests.support.procs import BIN, ROOT, Mosquitto

SCRIPT = r"""
import sys, asyncio
sys.path[:0] = [%(fw)r, %(root)r]
from mqtt import MQTTClient

async def main():
    c = MQTTClient("race-1", "127.0.0.1", %(port)d)
    await c.connect()
    small = b'{"online": true}'
    big = b'{"boot": 1, "taps": [' + b', '.join(b'{"seq": %%d, "ts": null, "kind": "mood", "value": 1, "q": null}' %% i for i in range(20)) + b']}'
    for round in range(20):
        await asyncio.gather(c.publish("civic/v1/race-1/taps", big, 1),
                             c.publish("civic/v1/race-1/status", small, 1, True),
                             c.publish("civic/v1/race-1/taps", big, 1))
    print("published", 60)
    await c.disconnect()

asyncio.run(main())
"""


def test_concurrent_publishes_stay_well_formed(tmp_path):
    broker = Mosquitto(tmp_path / "broker", use_deploy_conf=False,
                       extra=["max_queued_messages 0", "max_inflight_messages 0",
                              "log_type all"]).start()
    try:
        script = tmp_path / "race.py"
        script.write_text(SCRIPT % {"fw": os.path.join(ROOT, "firmware"), "root": ROOT,
                                    "port": broker.port})
        r = subprocess.run([os.path.join(BIN, "micropython"), str(script)], capture_output=True,
                           text=True, timeout=60)
        log = open(broker.log).read()
        assert r.returncode == 0 and "published 60" in r.stdout, r.stdout + r.stderr
        assert "malformed" not in log and "Bad socket" not in log, log[-2000:]
        assert log.count("Received PUBLISH from race-1") == 60
    finally:
        broker.kill()
