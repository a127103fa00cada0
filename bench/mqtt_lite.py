"""A light asyncio MQTT 3.1.1 client for bench/fleet: thousands of kiosks in one process.

Only what a kiosk does: CONNECT (clean session, credentials, a retained last will), SUBSCRIBE,
PUBLISH at QoS 0 or 1 (a future per QoS 1 message, resolved by its PUBACK), PUBACK of what it
receives at QoS 1, PINGREQ every keepalive, over TCP or TLS (asyncio's ssl). No QoS 2, no
resend inside a connection (the caller resends what no receipt covers, as the firmware does).
"""
import asyncio
import importlib.util
import os
import struct


class MqttError(Exception):
    pass


# The packets are the kiosk firmware's own (firmware/mqtt.py: pure functions, CPython runs
# them too), so the fleet's kiosks put on the wire what a Pico W does.
_spec = importlib.util.spec_from_file_location(
    "kiosk_mqtt", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "firmware", "mqtt.py"))
kiosk_mqtt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kiosk_mqtt)


class LiteClient:
    def __init__(self, client_id, user=None, password=None, keepalive=20, will=None,
                 on_message=None):
        self.client_id = client_id
        self.user, self.password = user, password
        self.keepalive = keepalive
        self.will = will                  # (topic, payload, qos, retain)
        self.on_message = on_message      # fn(topic: str, payload: bytes)
        self.reader = self.writer = None
        self.mid = 0
        self.waiting = {}                 # mid -> future (PUBACK or SUBACK)
        self.connected = False
        self.closed = asyncio.Event()
        self._tasks = []

    def _next_mid(self):
        self.mid = self.mid % 65535 + 1
        return self.mid

    async def connect(self, host, port, ssl=None, server_hostname=None, timeout=30):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl, server_hostname=server_hostname),
            timeout)
        self.writer.write(kiosk_mqtt.connect_packet(self.client_id, self.keepalive, self.user,
                                                     self.password, self.will))
        kind, data = await asyncio.wait_for(self._read_packet(), timeout)
        if kind != 0x20 or len(data) < 2 or data[1] != 0:
            self.writer.close()
            raise MqttError("connection refused: CONNACK %r" % (bytes(data),))
        self.connected = True
        self.closed.clear()
        self._tasks = [asyncio.ensure_future(self._read_loop()),
                       asyncio.ensure_future(self._ping_loop())]

    async def _read_packet(self):
        head = await self.reader.readexactly(1)
        n, mult = 0, 1
        while True:
            b = (await self.reader.readexactly(1))[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return head[0], (await self.reader.readexactly(n) if n else b"")

    async def _read_loop(self):
        try:
            while True:
                kind, data = await self._read_packet()
                t = kind & 0xF0
                if t == 0x30:                        # PUBLISH
                    qos = (kind >> 1) & 3
                    tl = struct.unpack_from("!H", data)[0]
                    topic = data[2:2 + tl].decode()
                    i = 2 + tl
                    if qos:
                        mid = data[i:i + 2]
                        i += 2
                        self.writer.write(b"\x40\x02" + mid)
                    if self.on_message:
                        self.on_message(topic, data[i:])
                elif t in (0x40, 0x90):              # PUBACK, SUBACK
                    mid = struct.unpack_from("!H", data)[0]
                    f = self.waiting.pop(mid, None)
                    if f and not f.done():
                        f.set_result(data[2:])
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._lost()

    async def _ping_loop(self):
        try:
            while self.connected:
                await asyncio.sleep(self.keepalive * 0.75)
                self.writer.write(b"\xc0\x00")
        except (ConnectionError, OSError):
            self._lost()

    def _lost(self):
        if not self.connected:
            return
        self.connected = False
        for f in self.waiting.values():
            if not f.done():
                f.set_exception(MqttError("connection lost"))
        self.waiting.clear()
        try:
            self.writer.close()
        except Exception:
            pass
        self.closed.set()

    def subscribe(self, filters):
        """[(filter, qos)] -> future of the SUBACK's return codes."""
        mid = self._next_mid()
        f = asyncio.get_running_loop().create_future()
        self.waiting[mid] = f
        self.writer.write(kiosk_mqtt.subscribe_packet(mid, [t for t, _ in filters],
                                                      [q for _, q in filters]))
        return f

    def publish(self, topic, payload, qos=1, retain=False):
        """-> a future resolved by the PUBACK (QoS 1), or None (QoS 0)."""
        if not self.connected:
            raise MqttError("not connected")
        f = None
        mid = 0
        if qos:
            mid = self._next_mid()
            f = asyncio.get_running_loop().create_future()
            self.waiting[mid] = f
        self.writer.write(kiosk_mqtt.publish_head(topic, len(payload), qos, retain, mid) + payload)
        return f

    async def close(self):
        if self.connected:
            try:
                self.writer.write(b"\xe0\x00")      # DISCONNECT: no last will
                await self.writer.drain()
            except (ConnectionError, OSError):
                pass
        self.connected = False
        for t in self._tasks:
            t.cancel()
        if self.writer:
            self.writer.close()
