"""Name lookups that never block the loop.

On the Pico W `socket.getaddrinfo` of a name blocks the whole VM until lwIP's DNS answers or
gives up (extmod/modlwip.c lwip_getaddrinfo waits in a loop for dns_gethostbyname's
callback), and `asyncio.open_connection` calls it too (extmod/asyncio/stream.py: "TODO this
is blocking!"). With an unreachable DNS server lwIP tries for about 7 s per server: two
servers starve the 8 s watchdog, and no button is read meanwhile. So the kiosk asks the DNS
server itself, one A query over a non-blocking UDP socket, waiting in short sleeps, and hands
the address (a literal never goes to DNS: lwIP parses it first) to whatever connects. The last
good answer of each name is kept, for when the DNS server is down and the broker is not.
"""
import asyncio
import struct


def is_address(host):
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return True
    return ":" in host  # IPv6 literal


def query(host, qid):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    for label in host.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", 1, 1)  # type A, class IN


def _skip_name(msg, pos):
    while True:
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:  # a compression pointer ends the name
            return pos + 2
        pos += 1 + n


def answer(msg, qid):
    """The first IPv4 address in a DNS response to query qid, or None."""
    if len(msg) < 12:
        return None
    rid, flags, qd, an = struct.unpack_from("!HHHH", msg, 0)
    if rid != qid or not flags & 0x8000 or flags & 0x000F:
        return None
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    for _ in range(an):
        pos = _skip_name(msg, pos)
        typ, cls, _ttl, n = struct.unpack_from("!HHIH", msg, pos)
        pos += 10
        if typ == 1 and cls == 1 and n == 4:
            return "%d.%d.%d.%d" % tuple(msg[pos:pos + 4])
        pos += n
    return None


class Resolver:
    """server: (ip, port) of the DNS server (DHCP's on the Pico W, or settings `dns`), or a
    function giving it, or None when none is known: then names go to the stack's own lookup."""

    def __init__(self, socket_mod, server=None):
        self.socket = socket_mod
        self.server = server
        self.cache = {}
        self.qid = 0

    def dns(self):
        return self.server() if callable(self.server) else self.server

    async def resolve(self, host, timeout_ms=2000, tries=2):
        if is_address(host):
            return host
        server = self.dns()
        if server is None:
            return host
        for _ in range(tries):
            ip = await self._ask(server, host, timeout_ms)
            if ip:
                self.cache[host] = ip
                return ip
        ip = self.cache.get(host)
        if ip:
            return ip  # DNS is down; the broker's last address may not be
        raise OSError(-2)  # what lwIP raises for a name it could not resolve

    async def _ask(self, server, host, timeout_ms):
        sk = self.socket
        self.qid = self.qid % 65535 + 1
        qid = self.qid
        addr = sk.getaddrinfo(server[0], server[1])[0][-1]  # an address literal: no DNS
        s = sk.socket(sk.AF_INET, sk.SOCK_DGRAM)
        try:
            s.setblocking(False)
            s.sendto(query(host, qid), addr)
            return await datagram(s, 512, timeout_ms, lambda data: answer(data, qid))
        finally:
            s.close()


async def datagram(s, size, timeout_ms, parse):
    """The first datagram on the non-blocking socket s that parse() makes something of, within
    timeout_ms; None if none. Polls in 20 ms sleeps, so presses keep flowing meanwhile."""
    waited = 0
    while waited < timeout_ms:
        try:
            got = parse(s.recv(size))
            if got:
                return got
        except OSError:
            pass  # nothing yet (EAGAIN)
        await asyncio.sleep_ms(20)
        waited += 20
    return None


def server_of(text, default_port=53):
    """settings `dns` ("HOST" or "HOST:PORT") -> (host, port)."""
    if ":" in text:
        h, p = text.rsplit(":", 1)
        return h, int(p)
    return text, default_port
