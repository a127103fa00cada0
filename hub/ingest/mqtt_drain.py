"""paho's Client with a fast lane for the one thing the hub does at volume: QoS 0/1 PUBLISH in,
PUBACK out.

Why: paho's Python code spends about 25 us per received message (it reads the fixed header a
byte per call, builds an MQTTMessage with its own Condition, matches topic callbacks, and sends
each PUBACK as its own packet). A bare paho subscriber is therefore CPU-bound at roughly
35,000 messages/s on this project's machines, and the hub, which must also validate and commit
every tap, could never keep up with it (issue 4: at least 0.9 of that baseline). Here:
- BufferedSocket reads the socket in chunks of up to READ_SIZE bytes, and
- DrainingClient._packet_read takes every complete PUBLISH at the head of that buffer in one
  go and hands them to on_publishes as one list (about 2 us per message);
- ack_many() sends the PUBACKs of a whole committed batch as one write.
Everything else (CONNECT, SUBSCRIBE, keepalive, reconnects, TLS, our own publishes, and any
packet that is not a QoS 0/1 PUBLISH) stays paho's own code: the buffered socket serves paho's
reads too, and pending() tells paho's loop when the buffer holds a packet it can read without
waiting on the socket (the same hook paho uses for TLS).

This leans on internals of paho-mqtt 2.2 (pinned in pyproject.toml): _create_socket,
_packet_read, _packet_queue, _in_packet, _msgtime_mutex, _protocol. FAST_LANE is False when any
of them is missing, and the client then behaves exactly like paho's (on_message per message,
one PUBACK each): slower, never wrong. tests/test_mqtt_drain.py checks both lanes.
"""
import ssl
import struct

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTTErrorCode

READ_SIZE = 256 * 1024   # one recv; also the largest PUBLISH the fast lane assembles itself
PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")
_INTERNALS = ("_create_socket", "_packet_read", "_packet_queue")
FAST_LANE = all(hasattr(mqtt.Client, n) for n in _INTERNALS) and hasattr(mqtt, "time_func")


class NotPublish(Exception):
    """The next packet is not one the fast lane takes: paho reads it."""


def _fixed_header(buf, pos):
    """-> (body start, body size) of the packet at buf[pos]; None while its remaining-length
    bytes are not all in buf; size -1 for a malformed (five-byte) length."""
    i, mult, size, end = pos + 1, 1, 0, len(buf)
    while i < end and i <= pos + 4:
        b = buf[i]
        i += 1
        size += (b & 127) * mult
        if b < 128:
            return i, size
        mult <<= 7
    return None if i <= pos + 4 else (i, -1)


def packet_end(buf, pos):
    """-> where the packet starting at buf[pos] ends, or -1 if buf does not hold all of it."""
    h = _fixed_header(buf, pos)
    if h is None:
        return -1
    start, size = h
    if size < 0:
        return start                     # malformed: paho reads it and reports it
    return start + size if start + size <= len(buf) else -1


def parse_publishes(buf, pos, out, limit=READ_SIZE):
    """Append (topic, payload, retain, mid, qos) for each complete QoS 0/1 PUBLISH packet of
    MQTT 3.1.1 in buf from pos on; stop at the first incomplete packet. -> the new pos.
    Raises NotPublish (nothing taken at pos) when the packet at pos is another type, QoS 2,
    malformed, or declares more than `limit` bytes (paho's own reader takes those)."""
    end = len(buf)
    while pos < end:
        cmd = buf[pos]
        qos = (cmd >> 1) & 3
        usable = cmd >> 4 == 3 and qos <= 1
        if usable:
            h = _fixed_header(buf, pos)
            if h is None:
                return pos
            i, size = h
            stop = i + size
            usable = 2 + 2 * qos <= size <= limit      # also refuses a malformed length (-1)
            if usable:
                if stop > end:
                    return pos
                t1 = i + 2 + ((buf[i] << 8) | buf[i + 1])   # end of the topic
                usable = t1 + 2 * qos <= stop
        if not usable:
            if out:
                return pos
            raise NotPublish()
        if qos:
            out.append((buf[i + 2:t1], buf[t1 + 2:stop], cmd & 1, (buf[t1] << 8) | buf[t1 + 1], 1))
        else:
            out.append((buf[i + 2:t1], buf[t1:stop], cmd & 1, 0, 0))
        pos = stop
    return pos


class BufferedSocket:
    """Wraps paho's connected socket (plain or TLS). recv() serves paho from the buffer;
    take_publishes() serves the fast lane. Any other attribute is the socket's own."""

    def __init__(self, sock):
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def _fill(self):
        """One read from the socket, appended to what is left. Raises BlockingIOError when
        there is nothing to read (TLS's want-read/write included), ConnectionError at EOF."""
        try:
            data = self._sock.recv(READ_SIZE)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError()
        if not data:
            raise ConnectionError("connection closed by the broker")
        rest = self._buf[self._pos:]
        self._buf, self._pos = (rest + data if rest else data), 0

    def take_publishes(self):
        """-> [(topic, payload, retain, mid, qos), ...], reading the socket once if the buffer
        has no complete packet; [] when a packet is still incomplete. NotPublish: see
        parse_publishes. I/O errors as in _fill."""
        got = []
        self._pos = parse_publishes(self._buf, self._pos, got)
        if not got:
            self._fill()
            self._pos = parse_publishes(self._buf, self._pos, got)
        return got

    def recv(self, n):
        if self._pos >= len(self._buf):
            return self._sock.recv(n)    # paho's own reads when the buffer is empty
        pos = self._pos
        self._pos = min(pos + n, len(self._buf))
        return self._buf[pos:self._pos]

    def pending(self):
        """Bytes readable without waiting on the socket: paho's loop then skips its select
        wait. A packet still incomplete in the buffer is not readable yet."""
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        left = len(self._buf) - self._pos
        if left and packet_end(self._buf, self._pos) < 0:
            left = 0
        return inner + left

    def __getattr__(self, name):
        return getattr(self._sock, name)


class DrainingClient(mqtt.Client):
    """mqtt.Client whose received QoS 0/1 PUBLISH packets of MQTT 3.1.1 go, a buffer at a time,
    to on_publishes(list) (on paho's network thread) instead of on_message. Without FAST_LANE,
    or for packets the lane does not take, on_message is called as usual."""

    on_publishes = None
    connect_error = None   # why the last connection attempt failed (paho's callback has no reason)

    def _create_socket(self):
        try:
            sock = super()._create_socket()
        except OSError as e:   # refused, unreachable, TLS certificate refused ...
            self.connect_error = e
            raise
        self.connect_error = None
        return BufferedSocket(sock) if FAST_LANE else sock

    def _packet_read(self):
        sock = self._sock
        if (self.on_publishes is None or self._in_packet["command"] != 0
                or self._protocol == mqtt.MQTTv5 or not isinstance(sock, BufferedSocket)):
            return super()._packet_read()
        try:
            got = sock.take_publishes()
        except NotPublish:
            return super()._packet_read()
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as e:             # ConnectionError, reset, TLS failure
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", e)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not got:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        try:
            self.on_publishes(got)
        except Exception as e:           # as paho treats an on_message that raises
            self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_publishes: %s", e)
            if not self.suppress_exceptions:
                raise
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids):
        """PUBACK each QoS 1 message id, in the given order, as one write (manual_ack)."""
        if not mids:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if not FAST_LANE:
            for mid in mids:
                self.ack(mid, 1)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        blob = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
        return self._packet_queue(PUBACK, blob, 0, 0)
