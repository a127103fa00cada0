"""A paho-mqtt subscriber that records every tap and status the kiosks publish (for firmware
tests that must not depend on the hub's ingest). Duplicates are counted, not hidden: a QoS 1
redelivery is allowed, a seq reused for a different tap is a failure the test can see."""
import json
import threading
import time

import paho.mqtt.client as mqtt

from protocol import receipts, v1

# A config with the misuse rules off, for tests that press faster than a person would.
OPEN_RULES = {"rev": 1, "cooldown_ms": 0, "burst_max": 0, "burst_window_ms": 0}


class Collector:
    """receipts: answer every taps message with the kiosk's receipt, as the hub does after a
    commit (here once the tap is recorded), so kiosks delete what was delivered."""

    def __init__(self, port, topic="civic/v1/#", receipts=True):
        self.port = port
        self.receipts = receipts
        self.committed = {}     # kiosk -> (upto, ranges) receipted so far
        self.topic = topic
        self.cond = threading.Condition()
        self.taps = {}          # (kiosk, seq) -> tap dict (first delivery)
        self.deliveries = 0     # tap deliveries including redeliveries
        self.conflicts = []     # (kiosk, seq, first, other): a seq reused for another tap
        self.messages = []      # (kiosk, number of taps) per taps message
        self.status = {}        # kiosk -> last status dict
        self.raw = []           # (topic, payload bytes, retain) of everything else
        # A persistent session: across a broker restart (stop/start) the broker keeps the
        # subscription and queues what kiosks publish before this client is back.
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id="collector-%d-%d" % (port, id(self)),
                                  clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1)

    def start(self):
        self.client.connect("127.0.0.1", self.port, 30)
        self.client.loop_start()
        return self

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, msg):
        with self.cond:
            try:
                kiosk, channel = v1.parse_topic(msg.topic)
            except v1.ProtocolError:
                self.raw.append((msg.topic, msg.payload, msg.retain))
                return
            if channel == "taps":
                d = v1.decode_taps(msg.payload)  # a malformed message fails the test here
                self.messages.append((kiosk, len(d["taps"])))
                if self.receipts:
                    self._receipt(kiosk, [t["seq"] for t in d["taps"]],
                                  v1.decode_tap_batch(msg.payload)[2])
                for t in d["taps"]:
                    self.deliveries += 1
                    key = (kiosk, t["seq"])
                    old = self.taps.get(key)
                    if old is None:
                        self.taps[key] = t
                    elif old != t:
                        self.conflicts.append((kiosk, t["seq"], old, t))
            elif channel == "status":
                self.status[kiosk] = json.loads(msg.payload)
            else:
                self.raw.append((msg.topic, msg.payload, msg.retain))
            self.cond.notify_all()

    def _receipt(self, kiosk, seqs, settled):
        up, rs = receipts.receipt_settle(*self.committed.get(kiosk, (0, [])), settled)
        for s in seqs:
            up, rs = receipts.receipt_add(up, rs, s, s)
        self.committed[kiosk] = (up, rs)
        self.client.publish(v1.topic(kiosk, "receipt"), receipts.encode_receipt(up, rs), qos=1,
                            retain=True)

    def seqs(self, kiosk):
        with self.cond:
            return sorted(s for k, s in self.taps if k == kiosk)

    def wait_seqs(self, kiosk, seqs, timeout=30):
        """Wait until every seq in `seqs` has arrived for the kiosk; return the missing ones."""
        want = set(seqs)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                missing = sorted(s for s in want if (kiosk, s) not in self.taps)
                left = end - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self.cond.wait(min(left, 0.5))

    def wait_status(self, kiosk, pred, timeout=20):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                st = self.status.get(kiosk)
                if st is not None and pred(st):
                    return st
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("status of %s never matched; last: %r" % (kiosk, st))
                self.cond.wait(min(left, 0.5))

    def push_config(self, kiosk, cfg):
        """Publish cfg as the kiosk's retained config, as the hub does."""
        self.publish(v1.topic(kiosk, "config"), json.dumps(cfg), retain=True)

    def publish(self, topic, payload, retain=False):
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
