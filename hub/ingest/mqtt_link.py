"""The ingest's MQTT connection (paho-mqtt 2.x, callback API v2), nothing else.

- Persistent session: a stable client id with clean_session False, so the broker keeps our
  subscription and queues QoS 1 messages while the hub is down, and redelivers the unacked ones.
- Subscriptions are (re)made in on_connect, so every reconnect renews them.
- manual_ack: PUBACK is sent only when the writer says the message is committed (ack()), one
  write for a whole batch.
- The network thread only hands messages to `deliver`, as lists (a socket read's worth at a
  time: hub/ingest/mqtt_drain.py); it never touches the database.
"""
import logging
import ssl
import threading
import time
import urllib.parse

import paho.mqtt.client as mqtt

import protocol
from hub.common.logs import kv
from hub.common.messages import Msg
from hub.ingest.mqtt_drain import DrainingClient

log = logging.getLogger("civic.mqtt")

TAPS = protocol.every_kiosk("taps")
STATUS = protocol.every_kiosk("status")
FETCH = protocol.every_kiosk("fetch")   # firmware pieces asked for (hub/ingest/fw_offers.py)
KEEPALIVE_S = 30


def parse_brokers(urls):
    """'mqtt://h1:1883,mqtt://h2:1883' (the nodes of one cluster) -> [(host, port, tls), ...];
    one TLS setting for all, since one CA and one set of credentials serve them all."""
    out = [parse_broker(u.strip()) for u in (urls or "").split(",") if u.strip()] or \
        [parse_broker(urls)]
    if len({b[2] for b in out}) > 1:
        raise ValueError("broker URLs %r: all mqtt:// or all mqtts://" % (urls,))
    return out


def parse_broker(url):
    """mqtt://HOST[:PORT] or mqtts://HOST[:PORT] -> (host, port, tls)."""
    u = urllib.parse.urlsplit(url or "")
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
        raise ValueError("broker URL %r: use mqtt://HOST:PORT or mqtts://HOST:PORT" % (url,))
    tls = u.scheme == "mqtts"
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError("broker URL %r: bad port" % (url,))
    return u.hostname, port, tls


class MqttLink:
    def __init__(self, url, deliver, user=None, password=None, client_id="civic-hub",
                 share=None, on_connected=None, on_published=None, ca=None):
        # Several URLs: the nodes of one cluster (RabbitMQ, docs/SCALING.md). Each lost or
        # failed connection moves on to the next node; the session (its queue) lives on the
        # cluster, so the next node resumes it.
        self.brokers = parse_brokers(url)
        self.at = 0
        self.host, self.port, tls = self.brokers[0]
        self.deliver = deliver            # fn([Msg, ...]), called on the network thread
        self.on_connected = on_connected  # fn(), after subscriptions are requested
        self.on_published = on_published  # fn(mid), PUBACK of our own publish
        self.connected = False
        self.session_present = False      # of the last CONNACK: False = the broker forgot us
        self.subscribed = threading.Event()  # set on the SUBACK of the current connection
        self.gen = 0                      # connection counter: acks are only valid on their own
        self.stopping = False
        self.share = share
        self.client_id = client_id
        c = DrainingClient(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                           clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        if user:
            c.username_pw_set(user, password)
        if tls:
            c.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)  # ca None: the system's CAs
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = self._on_connect_fail
        c.on_message = self._on_message
        c.on_publishes = self._on_publishes
        c.on_publish = self._on_publish
        c.on_subscribe = lambda *a: self.subscribed.set()
        self.client = c
        self.subscriptions = [(("$share/%s/" % share if share else "") + TAPS, 1), (STATUS, 1)]
        # Fetches at QoS 0, shared like taps: with several workers one of them answers each.
        self.subscriptions.append((("$share/%s/" % share if share else "") + FETCH, 0))

    def start(self):
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        return self

    def stop(self):
        """Disconnect (the session stays on the broker) after queued acks are written."""
        self.stopping = True
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()
        self.connected = False

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning(kv("connect_refused", broker="%s:%s" % (self.host, self.port),
                           reason=reason_code))
            return
        self.gen += 1
        self.session_present = bool(flags.session_present)
        self.subscribed.clear()
        client.subscribe(self.subscriptions)
        self.connected = True
        log.info(kv("connected", broker="%s:%s" % (self.host, self.port),
                    client_id=self.client_id, session_present=int(flags.session_present),
                    gen=self.gen))
        if self.on_connected:
            self.on_connected()

    def _next_broker(self, client):
        """After a lost or failed connection: paho's next reconnect goes to the next node.
        Called from paho's callbacks, once the socket is closed."""
        if len(self.brokers) < 2 or self.stopping:
            return
        self.at = (self.at + 1) % len(self.brokers)
        self.host, self.port = self.brokers[self.at][:2]
        # paho's own reconnect() reads _host/_port. Its public setters refuse while the state
        # is "connection lost", which is exactly when this runs (paho 2.2, client.py
        # _connection_closed), so the fields are set directly; the socket is closed here.
        client._host, client._port = self.host, self.port

    def _on_connect_fail(self, client, userdata):
        err = client.connect_error
        hint = ""
        if isinstance(err, ssl.SSLError):
            hint = "give the CA that signed the broker's certificate with --ca"
        elif isinstance(err, ConnectionRefusedError):
            hint = "is the broker running on that port?"
        log.warning(kv("connect_failed", broker="%s:%s" % (self.host, self.port),
                       error=str(err) if err else "unknown", hint=hint,
                       retry="with backoff up to 30 s"))
        self._next_broker(client)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        was = self.connected
        self.connected = False
        if was and not self.stopping:
            log.warning(kv("disconnected", broker="%s:%s" % (self.host, self.port),
                           reason=reason_code))
        self._next_broker(client)

    def _on_publishes(self, got):
        # The fast lane: every complete PUBLISH of one socket read. Topics are raw bytes (a
        # topic that is not UTF-8 must become a reject row, not a lost message).
        if self.stopping:
            return  # not acked: the broker redelivers them to our session next time
        now, gen = time.time(), self.gen
        self._deliver([Msg(t, p, bool(r), now, mid, qos, gen) for t, p, r, mid, qos in got])

    def _on_message(self, client, userdata, m):
        # What the fast lane leaves to paho (hub/ingest/mqtt_drain.py), one message at a time.
        if self.stopping:
            return
        # m._topic: the raw topic bytes (m.topic would raise on a topic that is not UTF-8).
        self._deliver([Msg(m._topic, m.payload, bool(m.retain), time.time(), m.mid, m.qos,
                           self.gen)])

    def _deliver(self, msgs):
        try:
            self.deliver(msgs)
        except Exception as e:
            # A bug downstream must not end paho's network thread (the ingest would stop for
            # good while it still looks connected). These messages stay unacknowledged: the
            # broker sends them again after the next reconnect.
            log.exception(kv("deliver_failed", messages=len(msgs), error=repr(e)))

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        if self.on_published:
            self.on_published(mid)

    def ack(self, msgs):
        """PUBACK committed messages, in arrival order, as one write; only those that came on
        the current connection (after a reconnect the broker redelivers the others, and those
        copies are acked instead)."""
        if not self.connected:
            return
        gen = self.gen
        self.client.ack_many([m.mid for m in msgs if m.qos and m.gen == gen])

    def publish(self, topic, payload, retain=True, qos=1):
        """QoS 1 publish (or qos 0: a firmware chunk); -> mid, or None when not connected."""
        if not self.connected:
            return None
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None
