"""Validation at the edge: every received MQTT message gets its verdict once, on the network
thread, through protocol/ (the same code the kiosks run), before it is queued for the writer.

classify() says what a message is, or why it is refused; prepared() is the form the writer
takes: the verdict, plus the raw topic and payload only for a reject (its row records them), so
a writer in another process is sent little more than the decoded rows.
"""
import json

import protocol

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


def classify(topic, payload):
    """-> ("taps", kiosk, (boot, rows)) | ("status", kiosk, decoded) | ("reject", kiosk, reason),
    rows as protocol.decode_tap_rows gives them. Never raises: whatever arrives is either
    understood or refused with a reason."""
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
            decoded = protocol.decode_tap_rows(payload)
            # The kiosk is named by the topic (the broker's ACL pins it); a payload that names
            # another one is forged or misrouted.
            if b'"kiosk"' in bytes(payload):
                named = json.loads(bytes(payload)).get("kiosk")
                if named != kiosk:
                    return ("reject", kiosk, "kiosk: payload says %r, topic says %r"
                            % (named, kiosk))
            return ("taps", kiosk, decoded)
        if channel == "status":
            return ("status", kiosk, protocol.decode_status(payload))
        return ("reject", kiosk, "topic: the hub does not ingest %s messages" % channel)
    except protocol.ProtocolError as e:
        return ("reject", kiosk, str(e))
    except Exception as e:  # e.g. a JSON nesting bomb: RecursionError
        return ("reject", kiosk, "bad-json: %s" % type(e).__name__)


def prepared(m):
    """A Msg validated for Writer.commit: (verdict, retain, received, topic, payload). The
    topic and payload are kept only for a reject (its row records them): the rest is in the
    verdict, so a writer in another process is sent only that."""
    v = classify(m.topic, m.payload)
    if v[0] == "reject":
        return (v, m.retain, m.received, m.topic, m.payload)
    return (v, m.retain, m.received, None, None)
