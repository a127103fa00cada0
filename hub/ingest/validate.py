"""Validation at the edge: every received MQTT message gets its verdict once, on the network
thread, through protocol/ (the same code the kiosks run), before it is queued for the writer.

classify() says what a message is, or why it is refused; prepared() is the form the writer
takes: the verdict, plus the raw topic and payload only for a reject (its row records them), so
a writer in another process is sent little more than the decoded rows.

Times are bounded by the hub's clock (issue 14), here at the edge where it costs a comparison:
- a status whose `ts` is more than STATUS_AHEAD_S ahead of the hub's clock is a reject (it
  would have frozen the kiosk's registry row: later heartbeats would all look older);
- a tap dated more than TAP_AHEAD_S ahead, or before EARLIEST_TAP ($CIVIC_EARLIEST_TAP, an ISO
  date, default 2024-01-01), cannot be stored: its message is a reject with the reason, or,
  when other taps of the message are fine, those are stored and the verdict carries the
  reason as a fourth element for the writer to record as a reject of its own.
What a tap may name (skill categories, questions) is checked by the writer against what the
hub knows (hub/ingest/known.py), from a cache: no database query here.
"""
import datetime
import json
import os
import time

import protocol
from protocol import updates as pu

STATUS_AHEAD_S = 3600
TAP_AHEAD_S = 600


def _earliest():
    v = os.environ.get("CIVIC_EARLIEST_TAP") or "2024-01-01"
    d = datetime.date.fromisoformat(v)
    return int(datetime.datetime(d.year, d.month, d.day,
                                 tzinfo=datetime.timezone.utc).timestamp())


EARLIEST_TAP = _earliest()

_topics = {}              # raw topic -> (kiosk, channel): parse_topic's verdict, remembered
_TOPICS_MAX = 100000      # about a city's kiosks times their channels, with room to spare


def _parse_topic(topic):
    hit = _topics.get(topic) if type(topic) in (bytes, str) else None
    if hit is None:
        hit = protocol.parse_topic(topic)
        if type(topic) in (bytes, str):
            if len(_topics) >= _TOPICS_MAX:
                _topics.clear()
            _topics[topic] = hit
    return hit


def _bad_times(kiosk, decoded, now):
    """A taps verdict with the taps dated outside EARLIEST_TAP..now + TAP_AHEAD_S left out."""
    boot, rows = decoded[0], decoded[1]
    hi = now + TAP_AHEAD_S
    for r in rows:
        ts = r[1]
        if ts is not None and (ts > hi or ts < EARLIEST_TAP):
            break
    else:
        return ("taps", kiosk, decoded)  # the usual case: one comparison pair per tap
    good, reason = [], None
    for i, r in enumerate(rows):
        ts = r[1]
        if ts is not None and ts > hi:
            reason = reason or "taps[%d].ts: %d is %d s ahead of the hub's clock" % (
                i, ts, ts - now)
        elif ts is not None and ts < EARLIEST_TAP:
            reason = reason or "taps[%d].ts: %d is before the earliest tap date (%d)" % (
                i, ts, EARLIEST_TAP)
        else:
            good.append(r)
    # The refused taps are settled all the same (a rejects row says why): the fourth element,
    # every seq of the message, lets the receipt cover them, or the kiosk would keep them on
    # its flash and send them for ever. No good tap at all: the Writer makes it a reject.
    return ("taps", kiosk, (boot, good, decoded[2], [r[0] for r in rows]), reason)


def classify(topic, payload, now=None):
    """-> ("taps", kiosk, (boot, rows)[, reason]) | ("status", kiosk, decoded[, reason]) |
    ("fetch", kiosk, fetch) | ("reject", kiosk, reason), rows as protocol.decode_tap_rows
    gives them; a fourth element of a taps verdict says why some of the message's taps were
    left out, of a status verdict why its firmware-update progress was. now: the hub's clock
    at receipt (default: time.time()). Never raises: whatever arrives is either understood or
    refused with a reason."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    try:
        kiosk, channel = _parse_topic(topic)
    except protocol.ProtocolError as e:
        return ("reject", None, str(e))
    except Exception as e:  # a topic of the wrong type: still a reject, never a crash
        return ("reject", None, "topic: unreadable (%s)" % type(e).__name__)
    try:
        if channel == "taps":
            decoded = protocol.decode_tap_batch(payload)  # (boot, rows, settled)
            # The kiosk is named by the topic (the broker's ACL pins it); a payload that names
            # another one is forged or misrouted.
            if b'"kiosk"' in bytes(payload):
                named = json.loads(bytes(payload)).get("kiosk")
                if named != kiosk:
                    return ("reject", kiosk, "kiosk: payload says %r, topic says %r"
                            % (named, kiosk))
            return _bad_times(kiosk, decoded, time.time() if now is None else now)
        if channel == "status":
            status = protocol.decode_status(payload)
            ts = status.get("ts")
            now = time.time() if now is None else now
            if ts is not None and ts > now + STATUS_AHEAD_S:
                return ("reject", kiosk, "ts: status time %d is %d s ahead of the hub's clock"
                        % (ts, ts - now))
            if b'"update"' in bytes(payload):   # only while an update runs
                up = json.loads(bytes(payload)).get("update")
                if up is not None:
                    try:
                        status["update"] = pu.check_progress(up)
                    except protocol.ProtocolError as e:
                        # A bad progress report loses only itself: the status is kept.
                        return ("status", kiosk, status, str(e))
            return ("status", kiosk, status)
        if channel == "fetch":
            return ("fetch", kiosk, pu.decode_fetch(payload))
        return ("reject", kiosk, "topic: the hub does not ingest %s messages" % channel)
    except protocol.ProtocolError as e:
        return ("reject", kiosk, str(e))
    except Exception as e:  # e.g. a JSON nesting bomb: RecursionError
        return ("reject", kiosk, "bad-json: %s" % type(e).__name__)


def prepared(m):
    """A Msg validated for Writer.commit: (verdict, retain, received, topic, payload). The
    topic and payload are kept only for a reject (its row records them): the rest is in the
    verdict, so a writer in another process is sent only that."""
    v = classify(m.topic, m.payload, m.received)
    if v[0] in ("reject", "fetch") or len(v) > 3:   # a fetch may become a reject when served
        return (v, m.retain, m.received, m.topic, m.payload)
    return (v, m.retain, m.received, None, None)
