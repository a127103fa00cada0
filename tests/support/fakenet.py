"""Network services on loopback for the firmware's own clients: a DNS server for its resolver
(firmware/net.py) and an NTP server for its clock (firmware/clock.py). Both are one
UdpResponder: a thread that answers each datagram with what answer() gives, or not at all."""
import socket
import struct
import threading
import time


class UdpResponder:
    def __init__(self, size):
        self.size = size
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def answer(self, data):
        """The reply to one datagram, or None to stay silent."""
        raise NotImplementedError

    def _serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(self.size)
            except OSError:
                continue
            self.queries += 1
            reply = self.answer(data)
            if reply is not None:
                self.sock.sendto(reply, addr)

    def close(self):
        self.running = False
        self.sock.close()


class FakeDNS(UdpResponder):
    """Every A query is answered with 127.0.0.1 while `answering`, and left without an answer
    otherwise (a DNS server that is down or unreachable)."""

    def __init__(self, answering=True):
        self.answering = answering
        super().__init__(512)

    def answer(self, data):
        if not self.answering or len(data) < 12:
            return None
        qid = struct.unpack_from("!H", data, 0)[0]
        end = data.index(b"\x00", 12) + 5  # the question: name, type, class
        return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + data[12:end]
                + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 1]))


class FakeNTP(UdpResponder):
    """A real NTP responder serving a made-up time, so a test knows where a tap's ts came
    from. It stays silent until enabled."""

    def __init__(self, base=1800000000):
        self.base = base
        self.t0 = time.monotonic()
        self.enabled = False
        super().__init__(64)

    def now(self):
        return self.base + (time.monotonic() - self.t0)

    def answer(self, data):
        if not self.enabled or len(data) < 48:
            return None
        secs = int(self.now()) + 2208988800
        return b"\x1c" + bytes(39) + struct.pack("!II", secs, 0)
