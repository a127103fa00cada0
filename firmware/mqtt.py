"""A small asyncio MQTT 3.1.1 client: what a kiosk needs and nothing that can block it.

CONNECT with will and credentials, PUBLISH at QoS 0/1 with PUBACK tracking, SUBSCRIBE, PINGREQ
keepalive, and outage detection: no packet from the broker for keepalive + 5 s closes the
connection (with keepalive 20 s an outage is noticed within 26 s). Every wait has a timeout, so
a stalled broker or a dead Wi-Fi only ever parks the task that talks to it.
The stream opener is a parameter so tests and the TLS option (mqtts://) plug in the same way.
"""
import asyncio
import struct
import time


HEADROOM = 128  # bytes before a payload in the packet buffer: fixed header + topic + id


class MQTTError(Exception):
    pass


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def _header(first, n):
    """Fixed header of a packet whose rest is n bytes long."""
    hdr = bytearray([first])
    while True:
        b = n & 0x7F
        n >>= 7
        hdr.append(b | 0x80 if n else b)
        if not n:
            break
    return hdr


def _packet(first, body):
    return bytes(_header(first, len(body))) + body


def connect_packet(client_id, keepalive, user=None, password=None, will=None, clean=True):
    """will = (topic, payload, qos, retain) or None."""
    flags = 0x02 if clean else 0
    pay = _str(client_id)
    if will:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
        pay += _str(will[0]) + _str(will[1])
    if user is not None:
        flags |= 0x80
        pay += _str(user)
        if password is not None:
            flags |= 0x40
            pay += _str(password)
    return _packet(0x10, _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + pay)


def publish_head(topic, n, qos=0, retain=False, pid=0, dup=False):
    """Everything of a PUBLISH before its n-byte payload (sent apart: no 4 KiB copy)."""
    first = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    var = _str(topic) + (struct.pack("!H", pid) if qos else b"")
    return bytes(_header(first, len(var) + n)) + var


def subscribe_packet(pid, topics, qos):
    """topics: one topic filter or a list of them in one SUBSCRIBE; qos: one for all, or a
    list with one per topic."""
    if not isinstance(topics, list):
        topics = [topics]
    body = struct.pack("!H", pid)
    for i in range(len(topics)):
        body += _str(topics[i]) + bytes([qos[i] if isinstance(qos, list) else qos])
    return _packet(0x82, body)


def parse_url(url):
    """'mqtt://host:1883' / 'mqtts://host:8883' -> (host, port, tls)."""
    tls = url.startswith("mqtts://")
    if not (tls or url.startswith("mqtt://")):
        raise ValueError("broker URL must start with mqtt:// or mqtts://")
    rest = url.split("://", 1)[1].rstrip("/")
    if ":" in rest:
        host, port = rest.rsplit(":", 1)
        return host, int(port), tls
    return rest, 8883 if tls else 1883, tls


class MQTTClient:
    def __init__(self, client_id, host, port, user=None, password=None, keepalive=20,
                 will=None, on_message=None, opener=None, pkt=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.will = will
        self.on_message = on_message
        self.opener = opener or asyncio.open_connection
        self.reader = None
        self.writer = None
        self.connected = False
        self.lock = asyncio.Lock()
        self.acks = {}        # pid -> asyncio.Event, set by the reader on PUBACK/SUBACK
        self.granted = b""    # return codes of the last SUBACK (0x80: refused, e.g. by ACL)
        self.pid = 0
        self.gen = 0          # bumped by close(): a waiter woken by a lost connection sees it
        self.last_rx = 0
        self.last_tx = 0
        self.tasks = []
        self.lost = asyncio.Event()  # set when a connection ends, for whoever reconnects
        # The packet buffer of publish_buffer(): the caller writes a payload at HEADROOM and
        # the fixed header goes just before it, so a 4 KiB message is sent in ONE write with
        # no copy (two writes meet Nagle's algorithm and a delayed ACK: +40 ms a message).
        # The owner allocates it once and hands it to every client it makes.
        self.pkt = pkt if pkt is not None else bytearray(HEADROOM + 4096)

    def _next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    async def connect(self, timeout_ms=10000):
        self.close()
        self.lost = asyncio.Event()
        r, w = await asyncio.wait_for_ms(self.opener(self.host, self.port), timeout_ms)
        self.reader, self.writer = r, w
        try:
            await asyncio.wait_for_ms(self._handshake(), timeout_ms)
        except BaseException:
            self.close()
            raise
        self.connected = True
        self.last_rx = self.last_tx = time.ticks_ms()
        self.tasks = [asyncio.create_task(self._read_loop()),
                      asyncio.create_task(self._ping_loop())]

    async def _handshake(self):
        await self._send(connect_packet(self.client_id, self.keepalive, self.user,
                                        self.password, self.will))
        first, body = await self._read_packet()
        if first != 0x20 or len(body) != 2:
            raise MQTTError("no CONNACK")
        if body[1] != 0:
            raise MQTTError("connection refused, code %d" % body[1])

    async def _send(self, data):
        w = self.writer
        if w is None:
            raise MQTTError("not connected")
        async with self.lock:
            w.write(data)  # one packet, one write; asyncio copies only what the socket refuses
            await w.drain()
        self.last_tx = time.ticks_ms()

    async def _read_packet(self):
        r = self.reader
        if r is None:
            raise MQTTError("not connected")
        first = (await r.readexactly(1))[0]
        n = 0
        shift = 0
        while True:
            b = (await r.readexactly(1))[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body = await r.readexactly(n) if n else b""
        self.last_rx = time.ticks_ms()
        return first, body

    async def _read_loop(self):
        try:
            while True:
                first, body = await self._read_packet()
                kind = first & 0xF0
                if kind in (0x40, 0x90):  # PUBACK, SUBACK
                    if kind == 0x90:
                        self.granted = bytes(body[2:])
                    ev = self.acks.pop(struct.unpack_from("!H", body, 0)[0], None)
                    if ev:
                        ev.set()
                elif kind == 0x30:
                    qos = (first >> 1) & 3
                    tlen = struct.unpack_from("!H", body, 0)[0]
                    topic = bytes(body[2:2 + tlen]).decode()
                    pos = 2 + tlen
                    if qos:
                        pid = struct.unpack_from("!H", body, pos)[0]
                        pos += 2
                        await self._send(b"\x40\x02" + struct.pack("!H", pid))
                    if self.on_message:
                        self.on_message(topic, bytes(body[pos:]), bool(first & 1))
        except Exception:
            pass
        self.close()

    async def _ping_loop(self):
        ka = self.keepalive * 1000
        try:
            while self.connected:
                await asyncio.sleep_ms(1000)
                now = time.ticks_ms()
                if time.ticks_diff(now, self.last_rx) > ka + 5000:
                    break  # the broker went silent: outage
                if time.ticks_diff(now, self.last_tx) >= ka // 2:
                    await asyncio.wait_for_ms(self._send(b"\xc0\x00"), 5000)
        except Exception:
            pass
        self.close()

    async def publish(self, topic, payload, qos=0, retain=False, timeout_ms=10000):
        """QoS 1 returns once the broker has PUBACKed, or raises (and the connection closes).
        For small messages (status); big ones go through publish_buffer()."""
        await self._publish(topic, payload, len(payload), qos, retain, timeout_ms)

    def payload_buffer(self):
        """Where publish_buffer() expects its payload: write it here, then call that."""
        return memoryview(self.pkt)[HEADROOM:]

    async def publish_buffer(self, topic, n, qos=0, retain=False, timeout_ms=10000):
        """Publish the n payload bytes already written into payload_buffer()."""
        await self._publish(topic, None, n, qos, retain, timeout_ms)

    async def _publish(self, topic, payload, n, qos, retain, timeout_ms):
        if not self.connected:
            raise MQTTError("not connected")
        pid = self._next_pid() if qos else 0
        head = publish_head(topic, n, qos, retain, pid)
        if payload is None:
            # The payload already sits at HEADROOM in the packet buffer (only the sender
            # task uses publish_buffer, one message at a time): put the header before it.
            start = HEADROOM - len(head)
            self.pkt[start:HEADROOM] = head
            data = memoryview(self.pkt)[start:HEADROOM + n]
        else:
            data = head + bytes(payload)
        await self._exchange(data, pid, timeout_ms, "PUBACK")

    async def subscribe(self, topic, qos=1, timeout_ms=10000):
        """One topic or a list (one round trip); -> the SUBACK's return code per topic."""
        pid = self._next_pid()
        await self._exchange(subscribe_packet(pid, topic, qos), pid, timeout_ms, "SUBACK")
        return self.granted

    async def _exchange(self, data, pid, timeout_ms, ack):
        """Send one packet and, when it has a packet id, wait for its ack (PUBACK, SUBACK).
        Any failure closes the connection: the caller reconnects and sends again."""
        gen = self.gen
        ev = None
        if pid:
            ev = asyncio.Event()
            self.acks[pid] = ev
        try:
            await asyncio.wait_for_ms(self._send(data), timeout_ms)
            if ev:
                await asyncio.wait_for_ms(ev.wait(), timeout_ms)
        except BaseException:
            self.acks.pop(pid, None)
            self.close()
            raise
        if gen != self.gen:
            raise MQTTError("connection lost before " + ack)

    async def disconnect(self):
        try:
            await asyncio.wait_for_ms(self._send(b"\xe0\x00"), 1000)
        except Exception:
            pass
        self.close()

    def close(self):
        was = self.connected
        self.connected = False
        self.gen += 1
        for t in self.tasks:
            if t is not asyncio.current_task():
                t.cancel()
        self.tasks = []
        w = self.writer
        self.reader = self.writer = None
        if w is not None:
            try:
                w.close()
                # close() is a no-op in MicroPython's asyncio: only wait_closed() closes the
                # socket (extmod/asyncio/stream.py: `async def wait_closed(self):
                # self.s.close()`), else every reconnect leaks a TCP PCB (lwIP has 5) and,
                # over TLS, ~20 KB of mbedTLS buffers. It never waits, so run it here.
                done = w.wait_closed()
                try:
                    done.send(None)
                except StopIteration:
                    pass
            except Exception:
                pass
        # Wake every publisher waiting for an ack: their connection is gone.
        for ev in self.acks.values():
            ev.set()
        self.acks = {}
        if was:
            self.lost.set()
