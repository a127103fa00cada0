"""A DNS server on loopback for the firmware's own resolver (firmware/net.py): every A query
is answered with 127.0.0.1 while `answering`, and left without an answer otherwise (a DNS
server that is down or unreachable)."""
import socket
import struct
import threading


class FakeDNS:
    def __init__(self, answering=True):
        self.answering = answering
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            self.queries += 1
            if not self.answering or len(data) < 12:
                continue
            qid = struct.unpack_from("!H", data, 0)[0]
            end = data.index(b"\x00", 12) + 5  # the question: name, type, class
            reply = (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + data[12:end]
                     + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 1]))
            self.sock.sendto(reply, addr)

    def close(self):
        self.running = False
        self.sock.close()
