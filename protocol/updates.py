"""Firmware-update messages of protocol v1 (docs/PROTOCOL.md "Firmware updates"): the offer
(hub -> kiosk, retained, on `update`), fetch (kiosk -> hub) and chunk (hub -> kiosk), and the
progress a kiosk reports in its status. Runs on MicroPython (the kiosk's updater) and CPython
(the hub), with hashlib and binascii only: MicroPython has no hmac module.

Not star-imported by protocol/__init__.py: a kiosk imports it only while an update runs
(about 6 KB of RAM on the unix port), and frees it after.
"""
import binascii
import hashlib

from protocol.v1 import MAX_SEQ, ProtocolError, _dump, _is_int, _load, valid_kiosk_id

STATES = ("offered", "downloading", "verified", "switched", "confirmed", "rolled_back",
          "failed")
MAX_FILES = 40
CHUNK_MAX = 2048          # bytes of one chunk: base64 makes 2,732, well under MAX_PAYLOAD
MAX_FILE = 1 << 20        # bytes of one file of a release (the whole flash is 848 KB)
MAX_PATH = 64
REASON_MAX = 200          # characters of a progress reason (a crash line's tail)
# The stable loader at the flash root: never part of a release, never replaced by an update
# (firmware/README.md "Updates"). A release that lists one of them is refused.
LOADER_FILES = ("main.py", "bootsel.py")
_VCHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-+"
_PCHARS = "abcdefghijklmnopqrstuvwxyz0123456789_.-/"
_HEX = "0123456789abcdef"


def valid_version(v):
    """1 to 32 of `0-9 a-z . - +`, starting with a digit or letter."""
    if type(v) is not str or not 0 < len(v) <= 32 or v[0] in ".-+":
        return False
    for c in v:
        if c not in _VCHARS:
            return False
    return True


def version_tuple(v):
    """'1.22.0' -> (1, 22, 0); '1.23.0-preview' -> (1, 23, 0): the leading digits of each
    dotted part (none: 0), for comparing MicroPython and release versions."""
    out = []
    for part in v.split("."):
        i = 0
        while i < len(part) and "0" <= part[i] <= "9":
            i += 1
        out.append(int(part[:i]) if i else 0)
    return tuple(out)


def _valid_hex(s, n):
    if type(s) is not str or len(s) != n:
        return False
    for c in s:
        if c not in _HEX:
            return False
    return True


def valid_path(p):
    """A file's path inside an app folder: `a-z 0-9 _ . / -`, relative, no empty, `.` or
    `..` part, at most MAX_PATH characters."""
    if type(p) is not str or not 0 < len(p) <= MAX_PATH:
        return False
    for c in p:
        if c not in _PCHARS:
            return False
    for part in p.split("/"):
        if not part or part[0] == ".":
            return False
    return True


def _valid_mp(s):
    # "6.3" (mpy) or "1.22.0" (MicroPython): dotted numbers.
    if type(s) is not str or not 0 < len(s) <= 16 or s[0] == "." or s[-1] == ".":
        return False
    for c in s:
        if c not in "0123456789.":
            return False
    return ".." not in s


# ---- the MAC ------------------------------------------------------------------------------
def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) with hashlib alone."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    ipad = bytearray(64)
    opad = bytearray(64)
    for i in range(64):
        k = key[i] if i < len(key) else 0
        ipad[i] = k ^ 0x36
        opad[i] = k ^ 0x5C
    inner = hashlib.sha256(ipad)
    inner.update(msg)
    outer = hashlib.sha256(opad)
    outer.update(inner.digest())
    return outer.digest()


def offer_text(kiosk, offer):
    """The canonical text the MAC covers (docs/PROTOCOL.md): every field that decides what the
    kiosk runs, bound to this kiosk's id so an offer for one kiosk is no good for another."""
    lines = ["civic-fw-offer", kiosk, offer["v"], str(offer["n"]), offer["mpy"],
             offer["min_mp"], str(offer["chunk_max"])]
    for f in offer["files"]:
        lines.append("%s %d %s" % (f[0], f[1], f[2]))
    return ("\n".join(lines) + "\n").encode()


def _hex(b):
    return binascii.hexlify(b).decode()


def sign_offer(kiosk, offer, key):
    """A copy of offer with its "mac" for kiosk (key: the kiosk's 32-byte update key)."""
    if not valid_kiosk_id(kiosk):
        raise ProtocolError("kiosk: bad kiosk id %r" % (kiosk,))
    out = dict(offer)
    out.pop("mac", None)
    out["mac"] = _hex(hmac_sha256(key, offer_text(kiosk, out)))
    return out


def check_mac(kiosk, offer, key):
    """True when offer's "mac" is this kiosk's; compared in constant time (a timing leak
    would let a broker learn a valid MAC byte by byte)."""
    mac = offer.get("mac")
    if not _valid_hex(mac, 64) or not key:
        return False
    good = _hex(hmac_sha256(key, offer_text(kiosk, offer)))
    diff = 0
    for i in range(64):
        diff |= ord(mac[i]) ^ ord(good[i])
    return diff == 0


# ---- offer ---------------------------------------------------------------------------------
def encode_offer(offer):
    d = {"v": offer["v"], "n": offer["n"], "mpy": offer["mpy"], "min_mp": offer["min_mp"],
         "chunk_max": offer["chunk_max"], "files": [list(f) for f in offer["files"]]}
    if offer.get("mac") is not None:
        d["mac"] = offer["mac"]
    check_offer(d)
    return _dump(d)


def decode_offer(payload):
    """-> the validated offer dict, or None for an empty payload (the offer withdrawn)."""
    if not payload:
        return None
    return check_offer(_load(payload))


def check_offer(obj):
    v = obj.get("v")
    if not valid_version(v):
        raise ProtocolError("v: not a version (1 to 32 of 0-9 a-z . - +)")
    n = _need_n(obj)
    for k in ("mpy", "min_mp"):
        if not _valid_mp(obj.get(k)):
            raise ProtocolError("%s: not a dotted version" % k)
    cm = obj.get("chunk_max")
    if not _is_int(cm) or not 1 <= cm <= CHUNK_MAX:
        raise ProtocolError("chunk_max: not an integer 1..%d" % CHUNK_MAX)
    files = obj.get("files")
    if type(files) is not list or not 1 <= len(files) <= MAX_FILES:
        raise ProtocolError("files: a list of 1 to %d files" % MAX_FILES)
    seen = set()
    out = []
    for i in range(len(files)):
        f = files[i]
        if type(f) is not list or len(f) != 3:
            raise ProtocolError("files[%d]: not [path, size, sha256]" % i)
        if not valid_path(f[0]):
            raise ProtocolError("files[%d]: bad path" % i)
        if f[0] in seen:
            raise ProtocolError("files[%d]: %s listed twice" % (i, f[0]))
        if f[0] in LOADER_FILES:
            raise ProtocolError("files[%d]: %s belongs to the loader" % (i, f[0]))
        seen.add(f[0])
        if not _is_int(f[1]) or not 0 <= f[1] <= MAX_FILE:
            raise ProtocolError("files[%d]: size not 0..%d" % (i, MAX_FILE))
        if not _valid_hex(f[2], 64):
            raise ProtocolError("files[%d]: sha256 not 64 lower-case hex" % i)
        out.append([f[0], f[1], f[2]])
    mac = obj.get("mac")
    if mac is not None and not _valid_hex(mac, 64):
        raise ProtocolError("mac: not 64 lower-case hex")
    return {"v": v, "n": n, "mpy": obj["mpy"], "min_mp": obj["min_mp"], "chunk_max": cm,
            "files": out, "mac": mac}


def _need_n(obj):
    n = obj.get("n")
    if not _is_int(n) or not 1 <= n <= MAX_SEQ:
        raise ProtocolError("n: missing or not an integer 1..%d" % MAX_SEQ)
    return n


def offer_total(offer):
    """Bytes of all the offer's files."""
    t = 0
    for f in offer["files"]:
        t += f[1]
    return t


def cannot_run(offer, mpy, mp_version):
    """Why a kiosk whose runtime reads .mpy format `mpy` (major, sub) and is MicroPython
    `mp_version` (a tuple) cannot run offer; None when it can. Bytecode .mpy files load when
    the major version matches and the runtime's sub-version is not older (MicroPython's
    py/persistentcode.c; docs/UPDATES.md)."""
    want = version_tuple(offer["mpy"]) + (0,)
    if want[0] != mpy[0] or want[1] > mpy[1]:
        return "mpy: needs %s, runs %d.%d" % (offer["mpy"], mpy[0], mpy[1])
    mp_version = tuple(mp_version[:3])  # MicroPython's 4th part is a string ("preview")
    if version_tuple(offer["min_mp"]) > mp_version:
        return "micropython: needs %s, runs %s" % (
            offer["min_mp"], ".".join([str(x) for x in mp_version]))
    return None


# ---- fetch and chunk -----------------------------------------------------------------------
def encode_fetch(v, n, f, off, length):
    return _dump({"v": v, "n": n, "f": f, "off": off, "len": length})


def decode_fetch(payload):
    obj = _load(payload)
    v = obj.get("v")
    if not valid_version(v):
        raise ProtocolError("v: not a version")
    return {"v": v, "n": _need_n(obj), "f": _need(obj, "f", MAX_FILES - 1),
            "off": _need(obj, "off", MAX_FILE), "len": _need(obj, "len", CHUNK_MAX, 1)}


def _need(obj, key, hi, lo=0):
    x = obj.get(key)
    if not _is_int(x) or not lo <= x <= hi:
        raise ProtocolError("%s: missing or not an integer %d..%d" % (key, lo, hi))
    return x


def encode_chunk(v, f, off, data):
    b64 = binascii.b2a_base64(data).decode().strip()
    return _dump({"v": v, "f": f, "off": off, "data": b64})


def encode_chunk_error(v, reason):
    return _dump({"v": v, "error": str(reason)[:REASON_MAX]})


def decode_chunk(payload):
    """-> {"v", "f", "off", "data": bytes} or {"v", "error": reason}."""
    obj = _load(payload)
    v = obj.get("v")
    if not valid_version(v):
        raise ProtocolError("v: not a version")
    err = obj.get("error")
    if err is not None:
        if type(err) is not str:
            raise ProtocolError("error: not a string")
        return {"v": v, "error": err[:REASON_MAX]}
    data = obj.get("data")
    if type(data) is not str:
        raise ProtocolError("data: missing or not base64 text")
    try:
        raw = binascii.a2b_base64(data)
    except Exception:
        raise ProtocolError("data: not base64")
    if not 0 < len(raw) <= CHUNK_MAX:
        raise ProtocolError("data: 1 to %d bytes" % CHUNK_MAX)
    return {"v": v, "f": _need(obj, "f", MAX_FILES - 1), "off": _need(obj, "off", MAX_FILE),
            "data": raw}


# ---- progress (the status "update" field) --------------------------------------------------
def encode_progress(v, n, state, done=0, total=0, reason=None):
    """The status "update" field as a dict (the status is encoded as a whole)."""
    return check_progress({"v": v, "n": n, "state": state, "done": done, "total": total,
                           "reason": reason})


def check_progress(obj):
    """Validate a status "update" field -> its normalised dict (ProtocolError "update...")."""
    if type(obj) is not dict:
        raise ProtocolError("update: not an object")
    if not valid_version(obj.get("v")):
        raise ProtocolError("update.v: not a version")
    n = obj.get("n")
    if not _is_int(n) or not 0 <= n <= MAX_SEQ:
        raise ProtocolError("update.n: not an integer 0..%d" % MAX_SEQ)
    state = obj.get("state")
    if state not in STATES:
        raise ProtocolError("update.state: not one of %s" % ", ".join(STATES))
    out = {"v": obj["v"], "n": n, "state": state}
    for k in ("done", "total"):
        x = obj.get(k, 0)
        if x is None:
            x = 0
        if not _is_int(x) or not 0 <= x <= MAX_SEQ:
            raise ProtocolError("update.%s: not an integer" % k)
        out[k] = x
    reason = obj.get("reason")
    if reason is not None and type(reason) is not str:
        raise ProtocolError("update.reason: not a string")
    out["reason"] = reason[-REASON_MAX:] if reason else None
    return out
