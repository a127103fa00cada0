"""What a kiosk needs of the firmware-update messages (docs/PROTOCOL.md "Firmware updates"):
an offer checked whole (fields, MAC, whether this runtime can run it), a fetch to send, a
chunk to read. protocol/updates.py re-exports all of it, with the limits as names, and adds
the hub's side.

Lean on purpose: a kiosk loads it only while an update runs, into a heap where even names
count. Every name and short string is interned, and past 620 of them MicroPython's string
pool doubles (~7.5 KB at once on the sim): hence the few functions, the literal limits and
str.strip() for character sets (firmware/README.md "Updates"). Runs on MicroPython and
CPython with hashlib and binascii only (MicroPython has no hmac module).
"""
import binascii
import hashlib
import json

from protocol.v1 import MAX_PAYLOAD, MAX_SEQ, ProtocolError, _dump, _is_int, _need_int

# Limits (protocol/updates.py names them): 40 files, 2048 bytes a chunk (base64 makes 2,732,
# well under MAX_PAYLOAD), 1 MiB a file, 64 characters a path. The loader's files at the flash
# root (firmware/bootsel.py, main.py) are never part of a release, source or compiled.


def _json(payload):
    """protocol.v1's _load without its copy of the payload as text: json.loads reads bytes on
    both interpreters, and a 3 KB offer's copy is heap a kiosk may not have to spare. Text
    that is not UTF-8 cannot make a valid offer (its MAC or its checks fail)."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("oversize: %d bytes > %d" % (len(payload), MAX_PAYLOAD))
    try:
        obj = json.loads(payload)
    except Exception:
        raise ProtocolError("bad-json: payload is not JSON")
    if type(obj) is not dict:
        raise ProtocolError("bad-json: payload is not a JSON object")
    return obj


def valid_version(v):
    """1 to 32 of `0-9 a-z . - +`, starting with a digit or letter."""
    return type(v) is str and 0 < len(v) <= 32 and v[0] not in ".-+" and \
        not v.strip("0123456789abcdefghijklmnopqrstuvwxyz.-+")


def valid_path(p):
    """A file's path in an app folder: `a-z 0-9 _ . / -`, relative, no empty part and none
    starting with `.` (so no `..`), at most 64 characters."""
    if type(p) is not str or not 0 < len(p) <= 64 or \
            p.strip("0123456789abcdefghijklmnopqrstuvwxyz_.-/"):
        return False
    for s in p.split("/"):
        if not s or s[0] == ".":
            return False
    return True


def _hex(s):
    """64 lower-case hex digits (a SHA-256 or a MAC)."""
    return type(s) is str and len(s) == 64 and not s.strip("0123456789abcdef")


def version_tuple(v):
    """'1.22.0' -> (1, 22, 0); '1.23.0-preview' -> (1, 23, 0): the leading digits of each
    dotted part (none: 0)."""
    out = []
    for s in v.split("."):
        n = 0
        while n < len(s) and s[n].isdigit():
            n += 1
        out.append(int(s[:n]) if n else 0)
    return tuple(out)


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    pad = bytearray(64)
    pad[:len(key)] = key
    s = bytes(pad)
    for n in range(64):
        pad[n] = s[n] ^ 0x36
    h = hashlib.sha256(pad)
    h.update(msg)
    for n in range(64):
        pad[n] = s[n] ^ 0x5C
    s = hashlib.sha256(pad)
    s.update(h.digest())
    return s.digest()


def offer_text(kiosk, obj):
    """The canonical text the MAC covers (docs/PROTOCOL.md): every field that decides what the
    kiosk runs, bound to the kiosk's id, so an offer for one kiosk is no good for another."""
    s = "civic-fw-offer\n%s\n%s\n%d\n%s\n%s\n%d\n" % (
        kiosk, obj["v"], obj["n"], obj["mpy"], obj["min_mp"], obj["chunk_max"])
    for f in obj["files"]:
        s += "%s %d %s\n" % (f[0], f[1], f[2])
    return s.encode()


def check_mac(kiosk, obj, key):
    """True when the offer's "mac" is this kiosk's. Compared in constant time: a timing leak
    would let a broker find a valid MAC byte by byte."""
    mac = obj.get("mac")
    if not key or not _hex(mac):
        return False
    s = binascii.hexlify(hmac_sha256(key, offer_text(kiosk, obj))).decode()
    n = 0
    for i in range(64):
        n |= ord(mac[i]) ^ ord(s[i])
    return n == 0


def decode_offer(payload):
    """-> the validated offer dict (extra fields left out; the file list as sent, no copy:
    RAM), or None for an empty payload (the offer withdrawn). ProtocolError names the first
    thing wrong."""
    if not payload:
        return None
    obj = _json(payload)
    if not valid_version(obj.get("v")):
        raise ProtocolError("v: not a version (1 to 32 of 0-9 a-z . - +)")
    n = _need_int(obj, "n", 1, MAX_SEQ)
    for s in ("mpy", "min_mp"):
        v = obj.get(s)
        if type(v) is not str or not 0 < len(v) <= 16 or v.strip("0123456789.") or \
                v[0] == "." or v[-1] == "." or ".." in v:
            raise ProtocolError("%s: not a dotted version" % s)
    cm = _need_int(obj, "chunk_max", 1, 2048)
    files = obj.get("files")
    if type(files) is not list or not 1 <= len(files) <= 40:
        raise ProtocolError("files: a list of 1 to 40 files")
    for i in range(len(files)):
        f = files[i]
        if type(f) is not list or len(f) != 3:
            raise ProtocolError("files[%d]: not [path, size, sha256]" % i)
        if not valid_path(f[0]):
            raise ProtocolError("files[%d]: bad path" % i)
        for g in range(i):
            if files[g][0] == f[0]:
                raise ProtocolError("files[%d]: %s listed twice" % (i, f[0]))
        if f[0].rsplit(".", 1)[0] in ("main", "bootsel"):
            raise ProtocolError("files[%d]: %s belongs to the loader" % (i, f[0]))
        if not _is_int(f[1]) or not 0 <= f[1] <= 1 << 20:
            raise ProtocolError("files[%d]: size not 0..%d" % (i, 1 << 20))
        if not _hex(f[2]):
            raise ProtocolError("files[%d]: sha256 not 64 lower-case hex" % i)
    mac = obj.get("mac")
    if mac is not None and not _hex(mac):
        raise ProtocolError("mac: not 64 lower-case hex")
    return {"v": obj["v"], "n": n, "mpy": obj["mpy"], "min_mp": obj["min_mp"],
            "chunk_max": cm, "files": files, "mac": mac}


def cannot_run(obj, mpy, version):
    """Why a runtime reading .mpy format `mpy` (major, sub) that is MicroPython `version` (a
    tuple) cannot run the offer; None when it can. MicroPython loads a bytecode .mpy when its
    major version matches (py/persistentcode.c checks the sub-version only for native code);
    an offer of a newer sub-version is refused all the same: the format may have grown."""
    v = version_tuple(obj["mpy"]) + (0,)
    if v[0] != mpy[0] or v[1] > mpy[1]:
        return "mpy: needs %s, runs %d.%d" % (obj["mpy"], mpy[0], mpy[1])
    version = tuple(version[:3])  # MicroPython's 4th part is a string ("preview")
    if version_tuple(obj["min_mp"]) > version:
        return "micropython: needs %s, runs %d.%d.%d" % ((obj["min_mp"],) + version)
    return None


def encode_fetch(v, n, f, off, size):
    return _dump({"v": v, "n": n, "f": f, "off": off, "len": size})


def decode_chunk(payload):
    """-> {"v", "f", "off", "data": bytes} or {"v", "error": reason}."""
    obj = _json(payload)
    v = obj.get("v")
    if not valid_version(v):
        raise ProtocolError("v: not a version")
    s = obj.get("error")
    if s is not None:
        if type(s) is not str:
            raise ProtocolError("error: not a string")
        return {"v": v, "error": s[:200]}
    s = obj.get("data")
    if type(s) is not str:
        raise ProtocolError("data: missing or not base64 text")
    try:
        s = binascii.a2b_base64(s)
    except Exception:
        raise ProtocolError("data: not base64")
    if not 0 < len(s) <= 2048:
        raise ProtocolError("data: 1 to 2048 bytes")
    return {"v": v, "f": _need_int(obj, "f", 0, 39), "off": _need_int(obj, "off", 0, 1 << 20),
            "data": s}
