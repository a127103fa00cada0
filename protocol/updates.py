"""Firmware-update messages of protocol v1 (docs/PROTOCOL.md "Firmware updates"): the offer
(hub -> kiosk, retained, on `update`), fetch (kiosk -> hub) and chunk (hub -> kiosk), and the
progress a kiosk reports in its status. Runs on MicroPython and CPython.

What a kiosk needs (checking an offer and its MAC, fetch, chunk) is protocol/fwcore.py, which
a kiosk loads alone while an update runs; this module re-exports it and adds the hub's side
(signing, encoding offers and chunks, reading fetches and progress). Neither is star-imported
by protocol/__init__.py: a kiosk pays their RAM only during an update.
"""
import binascii

from protocol.fwcore import (cannot_run, check_mac, decode_chunk,  # noqa: F401
                             decode_offer, encode_fetch, hmac_sha256, offer_text, valid_path,
                             valid_version, version_tuple)
from protocol.v1 import MAX_SEQ, ProtocolError, _dump, _is_int, _load, _need_int, valid_kiosk_id

STATES = ("offered", "downloading", "verified", "switched", "confirmed", "rolled_back",
          "failed")
# The limits protocol/fwcore.py enforces (written there as numbers, to save the kiosk names).
MAX_FILES = 40
CHUNK_MAX = 2048          # bytes of one chunk: base64 makes 2,732, well under MAX_PAYLOAD
MAX_FILE = 1 << 20        # bytes of one file of a release (the whole flash is 848 KB)
MAX_PATH = 64
REASON_MAX = 200          # characters of a progress reason (a crash line's tail)
# The stable loader at the flash root (firmware/bootsel.py): never part of a release, never
# replaced by an update. An offer listing one of them, source or compiled, is refused.
LOADER_FILES = ("main.py", "bootsel.py")


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


def encode_offer(offer):
    d = {"v": offer["v"], "n": offer["n"], "mpy": offer["mpy"], "min_mp": offer["min_mp"],
         "chunk_max": offer["chunk_max"], "files": [list(f) for f in offer["files"]]}
    if offer.get("mac") is not None:
        d["mac"] = offer["mac"]
    b = _dump(d)
    decode_offer(b)  # what a kiosk would refuse is never sent
    return b


def check_offer(obj):
    """Validate an offer dict -> its clean copy (as decode_offer does for a payload)."""
    return decode_offer(_dump(obj))


def offer_total(offer):
    """Bytes of all the offer's files."""
    return sum(f[1] for f in offer["files"])


def decode_fetch(payload):
    obj = _load(payload)
    if not valid_version(obj.get("v")):
        raise ProtocolError("v: not a version")
    return {"v": obj["v"], "n": _need_int(obj, "n", 1, MAX_SEQ),
            "f": _need_int(obj, "f", 0, MAX_FILES - 1), "off": _need_int(obj, "off", 0, MAX_FILE),
            "len": _need_int(obj, "len", 1, CHUNK_MAX)}


def encode_chunk(v, f, off, data):
    b64 = binascii.b2a_base64(data).decode().strip()
    return _dump({"v": v, "f": f, "off": off, "data": b64})


def encode_chunk_error(v, reason):
    return _dump({"v": v, "error": str(reason)[:REASON_MAX]})


# ---- progress (the status "update" field) --------------------------------------------------
def encode_progress(v, n, state, done=0, total=0, reason=None):
    """The status "update" field as a dict (the status is encoded as a whole)."""
    return check_progress({"v": v, "n": n, "state": state, "done": done, "total": total,
                           "reason": reason})


def check_progress(obj):
    """Validate a status "update" field -> its normalised dict (ProtocolError "update...").
    Other keys (a kiosk keeps its own bookkeeping there) are left out."""
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
