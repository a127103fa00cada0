"""Property-based fuzz of the ingest (hypothesis): hostile topics and payloads go through the
same Writer.process path as MQTT messages. Whatever arrives: nothing crashes, every refused
message is one rejects row with a reason, every valid tap is stored exactly once, as sent.
Valid means: by protocol/, and within what the hub knows (issue 14: tap times within the
earliest date .. the hub's clock + a skew, skill categories the hub configured, questions the
hub knows; here none, so every q is stored as null)."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol
from hub.store.connection import open_db
from hub.common.messages import Msg
from hub.ingest import validate
from hub.ingest.writer import Writer

RECEIVED = 1795400000.0

KIOSKS = ["k1", "k2", "lib-north-1"]
json_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | \
    st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) |
                           st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=12)

good_topic = st.builds(lambda k, ch: "civic/v1/%s/%s" % (k, ch), st.sampled_from(KIOSKS),
                       st.sampled_from(["taps", "status"]))
bad_topic = st.sampled_from(["civic/v1/K1/taps", "civic/v1/k1/config", "civic/v2/k1/taps",
                             "civic/v1/k1/taps/x", "civic/v1//taps", "civic/v1/-k/taps",
                             "civic/v1/%s/taps" % ("a" * 33), "", "#"]) | st.text(max_size=40)
topics = st.one_of(good_topic, good_topic, bad_topic,
                   st.binary(max_size=30)).map(lambda t: t if isinstance(t, bytes) else t.encode())

# Valid taps (seqs in a small range, so redelivered duplicates are common) ...
mood_tap = st.fixed_dictionaries({
    "seq": st.integers(0, 80), "kind": st.just("mood"), "value": st.integers(1, 4),
    "ts": st.none() | st.integers(protocol.MIN_TS, protocol.MAX_TS),
    "q": st.none() | st.sampled_from(["q-1", "q_2.x"])})
skill_tap = st.fixed_dictionaries({
    "seq": st.integers(0, 80), "kind": st.just("skill"), "q": st.none(),
    "value": st.sampled_from(["basics", "eservices", "safety", "work", "my-cat_2"]),
    "ts": st.none() | st.integers(protocol.MIN_TS, protocol.MAX_TS)})
# ... and the ways a field goes wrong: out of range, wrong type, unknown kind, missing.
bad_field = st.sampled_from([("seq", -1), ("seq", 2**60), ("seq", "7"), ("seq", 1.0),
                             ("seq", True), ("ts", 5), ("ts", 2**40), ("ts", "now"),
                             ("kind", "vote"), ("kind", None), ("value", 0), ("value", 5),
                             ("value", "BAD"), ("value", ""), ("q", "Bad Q"), ("q", 7)]) | \
    st.tuples(st.sampled_from(["seq", "ts", "kind", "value", "q"]), json_values)


@st.composite
def taps_payload(draw):
    taps = draw(st.lists(mood_tap | skill_tap, min_size=0, max_size=52))
    obj = {"boot": draw(st.integers(0, 9)), "taps": taps}
    how = draw(st.integers(0, 9))
    if how == 0 and taps:       # one field of one tap wrong, or missing
        t = draw(st.sampled_from(taps))
        key, value = draw(bad_field)
        if draw(st.booleans()):
            t.pop(key, None)
        else:
            t[key] = value
    elif how == 1:              # the envelope wrong
        obj[draw(st.sampled_from(["boot", "taps"]))] = draw(json_values)
    elif how == 2:              # extra fields (ignored) or a kiosk named in the payload
        obj[draw(st.sampled_from(["kiosk", "extra"]))] = draw(st.sampled_from(KIOSKS) |
                                                              json_values)
    elif how == 3:
        return json.dumps(obj).encode()[:draw(st.integers(0, 40))]   # truncated in transit
    return json.dumps(obj).encode()


status_payload = st.fixed_dictionaries(
    {"online": st.booleans() | json_scalars},
    optional={"fw": st.text(max_size=40) | json_scalars, "uptime": st.integers(-1, 10**6),
              "rssi": st.integers(-250, 10), "ts": st.integers(0, 2**40), "queue": json_values},
).map(lambda d: json.dumps(d).encode())

payloads = st.one_of(taps_payload(), status_payload, st.binary(max_size=64),
                     json_values.map(lambda v: json.dumps(v).encode()),
                     st.binary(min_size=4097, max_size=4200))
# Mostly what a kiosk (or a broken one) would send on its own topics, plus anything at all.
plausible = st.one_of(
    st.tuples(st.sampled_from(KIOSKS).map(lambda k: ("civic/v1/%s/taps" % k).encode()),
              taps_payload(), st.just(False)),
    st.tuples(st.sampled_from(KIOSKS).map(lambda k: ("civic/v1/%s/status" % k).encode()),
              status_payload, st.booleans()))
anything = st.tuples(topics, payloads, st.booleans())
messages = st.lists(st.one_of(plausible, plausible, anything), min_size=1, max_size=6)


def _storable(tp):
    ts = tp["ts"]
    if ts is not None and not validate.EARLIEST_TAP <= ts <= RECEIVED + validate.TAP_AHEAD_S:
        return False
    return tp["kind"] != "skill" or tp["value"] in protocol.DEFAULT_SKILLS


def expected(topic, payload):
    """The oracle, from protocol/ and the hub's bounds: ("taps", kiosk, storable taps, some
    left out?) | ("status",) | None."""
    try:
        kiosk, ch = protocol.parse_topic(topic)
        if ch == "taps":
            d = protocol.decode_taps(payload)
            named = json.loads(payload).get("kiosk", kiosk)
            if named != kiosk:
                return None
            good = [dict(tp, q=None) for tp in d["taps"] if _storable(tp)]
            return ("taps", kiosk, good, len(good) < len(d["taps"])) if good else None
        if ch == "status":
            ts = protocol.decode_status(payload).get("ts")
            if ts is not None and ts > RECEIVED + validate.STATUS_AHEAD_S:
                return None
            return ("status", kiosk)
    except (protocol.ProtocolError, RecursionError):
        return None
    return None


def test_hostile_messages_never_crash_and_are_accounted_for(tmp_path):
    db = open_db(str(tmp_path / "fuzz.db"))
    writer = Writer(db)
    model = {}   # (kiosk, seq) -> (kind, value, q): the first valid copy of each tap
    stats = {"taps": 0, "reject": 0, "status": 0}

    @settings(max_examples=1200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(messages)
    def run(batch):
        msgs = [Msg(t, p, r, RECEIVED, i + 1, 1, 1) for i, (t, p, r) in enumerate(batch)]
        before = db.execute("SELECT count(*) FROM rejects").fetchone()[0]
        out, _ = writer.process(msgs)
        assert len(out) == len(msgs)
        refused = 0
        for (t, p, _), verdict in zip(batch, out):
            want = expected(t, p)
            stats[verdict[0]] += 1
            if want is None:
                assert verdict[0] == "reject" and verdict[1], (t, p, verdict)
                refused += 1
            else:
                assert verdict[0] == want[0], (t, p, verdict)
                if want[0] == "taps":
                    refused += want[3]  # the taps left out: a rejects row of their own
                    for tp in want[2]:
                        model.setdefault((want[1], tp["seq"]), (tp["kind"], tp["value"], tp["q"]))
        after = db.execute("SELECT count(*) FROM rejects").fetchone()[0]
        assert after - before == refused
        assert db.execute("SELECT count(*) FROM rejects WHERE reason = '' OR reason IS NULL"
                          ).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM taps").fetchone()[0] == len(model)

    run()
    stored = {(k, s): (kind, v, q) for k, s, kind, v, q in
              db.execute("SELECT kiosk, seq, kind, value, q FROM taps")}
    assert stored == model
    assert db.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0] == len(model)
    # the generator really exercised all three outcomes
    assert stats["taps"] > 200 and stats["reject"] > 500 and stats["status"] > 20, stats
    db.conn.close()
