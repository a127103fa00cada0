"""Receipts of protocol v1 (hub -> kiosk, retained, QoS 1 on civic/v1/<kiosk>/receipt): which
of a kiosk's seqs the hub has committed. Runs on MicroPython (the kiosk reads them) and CPython
(the hub writes them); see docs/PROTOCOL.md "Receipts".

{"upto": N, "also": [[a, b], ...]}: every seq <= upto is settled (committed, or declared by the
kiosk as never coming: the "settled" field of its taps messages), and every seq in a range a..b
is committed. Ranges are ascending, disjoint, not touching, all above upto + 1. A seq that never
comes (a torn record on the kiosk) therefore stalls nothing: the ranges above it cover what
follows, and the kiosk's next "settled" moves upto past it.
"""
from protocol.v1 import MAX_SEQ, ProtocolError, _dump, _is_int, _load, _need_int

MAX_RANGES = 32          # committed ranges above upto in one receipt (well under 4096 bytes)


def receipt_add(upto, ranges, lo, hi):
    """Add the committed seqs lo..hi to (upto, ranges) -> (upto, ranges), normalised: ranges
    that reach upto + 1 fold into upto; beyond MAX_RANGES the lowest ranges are dropped (a
    kiosk still holding one of those seqs sends it again, and the hub receipts it again)."""
    if hi <= upto:
        return upto, ranges
    if lo <= upto + 1:
        upto = hi
        lo = hi + 1
    else:
        out = []
        i = 0
        n = len(ranges)
        while i < n and ranges[i][1] < lo - 1:
            out.append(ranges[i])
            i += 1
        while i < n and ranges[i][0] <= hi + 1:
            lo = min(lo, ranges[i][0])
            hi = max(hi, ranges[i][1])
            i += 1
        out.append([lo, hi])
        out.extend(ranges[i:])
        ranges = out
    while ranges and ranges[0][0] <= upto + 1:
        upto = max(upto, ranges[0][1])
        ranges = ranges[1:]
    if len(ranges) > MAX_RANGES:
        ranges = ranges[len(ranges) - MAX_RANGES:]
    return upto, ranges


def receipt_settle(upto, ranges, settled):
    """The kiosk says every seq <= settled is settled: -> (upto, ranges) moved up to it."""
    if settled is None or settled <= upto:
        return upto, ranges
    return receipt_add(upto, ranges, upto + 1, settled)


def encode_receipt(upto, ranges):
    return _dump({"upto": upto, "also": ranges})


def decode_receipt(payload):
    """-> (upto, [[a, b], ...]) validated: ascending, disjoint ranges above upto."""
    obj = _load(payload)
    upto = _need_int(obj, "upto", 0, MAX_SEQ)
    also = obj.get("also", [])
    if type(also) is not list or len(also) > MAX_RANGES:
        raise ProtocolError("also: a list of at most %d ranges" % MAX_RANGES)
    prev = upto
    out = []
    for r in also:
        if type(r) is not list or len(r) != 2 or not _is_int(r[0]) or not _is_int(r[1]):
            raise ProtocolError("also: each range is [first, last]")
        if not prev < r[0] <= r[1] <= MAX_SEQ:
            raise ProtocolError("also: ranges ascending, disjoint and above upto")
        prev = r[1]
        out.append([r[0], r[1]])
    return upto, out


def receipt_covers(receipt, seq):
    """receipt = (upto, ranges) as decode_receipt gives it."""
    if seq <= receipt[0]:
        return True
    for r in receipt[1]:
        if seq < r[0]:
            return False
        if seq <= r[1]:
            return True
    return False
