"""A small paho client for tests: records connect results, messages and disconnects."""
import threading
import time

import paho.mqtt.client as mqtt


class Peer:
    """One MQTT connection. `rc` is the CONNACK reason (str), `got` the (topic, payload) seen."""

    def __init__(self, port, user=None, password=None, client_id="", clean=True, reconnect=False,
                 tls_ca=None):
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=clean)
        if user is not None:
            self.c.username_pw_set(user, password)
        if tls_ca:
            self.c.tls_set(ca_certs=tls_ca)
        self.rc = None
        self.got = []
        self.disconnects = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._answered = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_disconnect = self._on_disconnect
        if not reconnect:
            self.c.reconnect_delay_set(60, 60)  # a refused client stays refused for the test
        try:
            self.c.connect("127.0.0.1", port, keepalive=30)
        except OSError as e:  # e.g. a TLS handshake refused: a failed connection, for a test
            self.rc = "connect failed: %s" % e
            return
        self.c.loop_start()
        self._answered.wait(5)

    def _on_connect(self, c, userdata, flags, rc, props):
        self.rc = str(rc)
        if not rc.is_failure:
            self._connected.set()
        self._answered.set()

    def _on_message(self, c, userdata, msg):
        with self._lock:
            self.got.append((msg.topic, msg.payload))

    def _on_disconnect(self, c, userdata, flags, rc, props):
        self.disconnects += 1
        self._connected.clear()
        self._answered.set()

    @property
    def ok(self):
        return self.rc == "Success"

    @property
    def connected(self):
        return self._connected.is_set()

    def subscribe(self, topic, qos=1):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos)
        assert done.wait(5), "no SUBACK for " + topic

    def publish(self, topic, payload, qos=1, retain=False, timeout=5):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        return info

    def payloads(self, topic=None):
        with self._lock:
            return [p for t, p in self.got if topic is None or t == topic]

    def wait_for(self, payload, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if payload in self.payloads():
                return True
            time.sleep(0.02)
        return False

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()
