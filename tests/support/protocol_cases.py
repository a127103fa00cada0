"""Protocol v1 checks that run unchanged on CPython and on the MicroPython unix port.

Each case_* function asserts; main() runs them all and prints `ok NAME` or `FAIL NAME: why`,
which tests/test_protocol.py reads back from the `micropython` command.
"""
import json

from protocol import receipts, v1
from tests.support.mp_cases import run_cases

TAP = {"seq": 1041, "ts": 1795393090, "kind": "mood", "value": 4, "q": "q-17"}


def refused(fn, payload, reason_start):
    try:
        fn(payload)
    except v1.ProtocolError as e:
        assert str(e).startswith(reason_start), str(e)
        return
    raise AssertionError("accepted: %r" % (payload,))


def case_topics():
    assert v1.topic("lib-north-1", "taps") == "civic/v1/lib-north-1/taps"
    assert v1.every_kiosk("status") == "civic/v1/+/status"
    assert v1.parse_topic(b"civic/v1/k-2/status") == ("k-2", "status")
    for bad in ("civic/v1/K/taps", "civic/v2/k/taps", "civic/v1/k/other", "civic/v1/-k/taps",
                "civic/v1/k/taps/x", "civic/v1/" + "a" * 33 + "/taps"):
        refused(v1.parse_topic, bad, "topic:")


def case_taps_roundtrip():
    skill = {"seq": 7, "ts": None, "kind": "skill", "value": "eservices", "q": None}
    d = v1.decode_taps(v1.encode_taps(12, [TAP, skill]))
    assert d == {"boot": 12, "taps": [TAP, skill]}, d
    extra = dict(TAP)
    extra["colour"] = "red"  # extra fields are ignored
    assert v1.decode_taps(json.dumps({"boot": 1, "taps": [extra], "x": 1}))["taps"] == [TAP]


def case_tap_rows_match_decode_taps():
    skill = {"seq": 7, "ts": None, "kind": "skill", "value": "eservices", "q": None}
    payload = v1.encode_taps(12, [TAP, skill])
    assert v1.decode_tap_rows(payload) == (12, [(1041, 1795393090, "mood", 4, "q-17"),
                                                (7, None, "skill", "eservices", None)])


def case_identifiers_seen_before_do_not_let_bad_ones_through():
    # The hub remembers question and category ids it has checked; that memory must never
    # accept an id it has not checked, nor choke on a value that cannot be remembered.
    good = dict(TAP)
    for i in range(300):           # more than the memory holds: it is cleared and refilled
        good["q"] = "q-%d" % i
        v1.check_tap(good)
    for q in ("Q-1", "q 1", ["q-1"], {"q": 1}, 5, ""):
        bad = dict(TAP)
        bad["q"] = q
        refused(lambda t: v1.check_tap(t), bad, "taps[0].q")
    for value in (["work"], {"a": 1}, "Work", 3):
        bad = {"seq": 1, "ts": None, "kind": "skill", "value": value, "q": None}
        refused(lambda t: v1.check_tap(t), bad, "taps[0].value")


def case_json_around_the_object():
    # JSON's own whitespace around the object is fine; anything else before or after is not
    # (the hub's faster decoder must agree with json.loads and with MicroPython's).
    payload = ' \n{"boot": 1, "taps": [{"seq": 1, "ts": null, "kind": "mood", "value": 2, "q": null}]}\r\n'
    assert v1.decode_tap_rows(payload) == (1, [(1, None, "mood", 2, None)])
    for bad in ('{"boot": 1} {}', '{"boot": 1} x', "", "\x0c{}", "  "):
        refused(v1.decode_taps, bad, "bad-json")


def case_taps_refused():
    def one(**kw):
        t = dict(TAP)
        for k in kw:
            if kw[k] == "DEL":
                del t[k]
            else:
                t[k] = kw[k]
        return json.dumps({"boot": 1, "taps": [t]})
    refused(v1.decode_taps, b"\xff\xfe", "bad-utf8")
    refused(v1.decode_taps, "{", "bad-json")
    refused(v1.decode_taps, "[]", "bad-json")
    refused(v1.decode_taps, json.dumps({"boot": 1, "taps": []}), "taps:")
    refused(v1.decode_taps, json.dumps({"boot": 1, "taps": [TAP] * 51}), "taps:")
    refused(v1.decode_taps, json.dumps({"taps": [TAP]}), "boot:")
    refused(v1.decode_taps, one(seq="1"), "taps[0].seq")
    refused(v1.decode_taps, one(seq=True), "taps[0].seq")
    refused(v1.decode_taps, one(seq=-1), "taps[0].seq")
    refused(v1.decode_taps, one(ts="DEL"), "taps[0].ts")
    refused(v1.decode_taps, one(ts=5), "taps[0].ts")
    refused(v1.decode_taps, one(value=5), "taps[0].value")
    refused(v1.decode_taps, one(kind="DEL"), "taps[0].kind")
    refused(v1.decode_taps, one(kind="poll"), "taps[0].kind")
    refused(v1.decode_taps, one(q="Bad Id"), "taps[0].q")
    refused(v1.decode_taps, one(kind="skill", value="basics", q="q-1"), "taps[0].q")
    refused(v1.decode_taps, "x" * 5000, "oversize")


def case_status():
    st = v1.decode_status(v1.encode_status(True, fw="1.0.0", boot=3, uptime=5, queue=0,
                                           mem_free=1000, rssi=None, config_rev=2,
                                           filtered=1, ts=None, crash="x", refused=4,
                                           damaged=0, synced=False))
    assert st == {"online": True, "fw": "1.0.0", "boot": 3, "uptime": 5, "queue": 0,
                  "mem_free": 1000, "config_rev": 2, "filtered": 1, "crash": "x",
                  "refused": 4, "damaged": 0, "synced": False}, st
    assert v1.decode_status('{"online": false}') == {"online": False}
    refused(v1.decode_status, "{}", "online:")
    refused(v1.decode_status, '{"online": true, "queue": -1}', "queue:")
    refused(v1.decode_status, '{"online": true, "rssi": 5}', "rssi:")
    refused(v1.decode_status, '{"online": true, "refused": -2}', "refused:")
    refused(v1.decode_status, '{"online": true, "crash": 3}', "crash:")


def case_config():
    cfg = v1.decode_config(json.dumps({"rev": 7, "question": {"id": "q-17", "text": {
        "en": "How was your visit?", "nl": "Hoe was uw bezoek?"}}, "cooldown_ms": 0}))
    assert cfg["rev"] == 7 and cfg["cooldown_ms"] == 0 and cfg["burst_max"] == 20
    assert cfg["skills"] == list(v1.DEFAULT_SKILLS)
    assert v1.question_text(cfg, "nl") == "Hoe was uw bezoek?"
    assert v1.question_text(cfg, "fr") == "How was your visit?"
    assert v1.question_text(v1.DEFAULT_CONFIG) is None
    refused(v1.decode_config, "{}", "rev:")
    refused(v1.decode_config, '{"rev": 1, "question": {"id": "q"}}', "question.text")
    refused(v1.decode_config, '{"rev": 1, "skills": []}', "skills:")
    refused(v1.decode_config, '{"rev": 1, "burst_max": -1}', "burst_max:")


def case_taps_settled_field():
    # New firmware says which of its seqs are settled; old firmware says nothing; a bad value
    # is ignored (the field is optional), never a reason to refuse the taps.
    payload = v1.encode_taps(3, [TAP], settled=1040)
    assert v1.decode_tap_batch(payload)[2] == 1040
    assert v1.decode_tap_rows(payload) == (3, [(1041, 1795393090, "mood", 4, "q-17")])
    assert v1.decode_tap_batch(v1.encode_taps(3, [TAP]))[2] is None
    for bad in ("7", -1, True, None):
        p = json.dumps({"boot": 3, "taps": [TAP], "settled": bad})
        assert v1.decode_tap_batch(p)[2] is None


def case_receipt_topic_and_roundtrip():
    assert v1.topic("k-1", "receipt") == "civic/v1/k-1/receipt"
    assert v1.parse_topic("civic/v1/k-1/receipt") == ("k-1", "receipt")
    p = receipts.encode_receipt(10, [[12, 15], [20, 20]])
    assert receipts.decode_receipt(p) == (10, [[12, 15], [20, 20]])
    assert receipts.decode_receipt('{"upto": 4}') == (4, [])
    r = (10, [[12, 15], [20, 20]])
    assert [s for s in range(25) if receipts.receipt_covers(r, s)] == \
        list(range(11)) + [12, 13, 14, 15, 20]


def case_receipt_refused():
    for bad, why in (("{}", "upto:"), ('{"upto": -1}', "upto:"),
                     ('{"upto": 1, "also": [[1, 2]]}', "also:"),
                     ('{"upto": 1, "also": [[5, 4]]}', "also:"),
                     ('{"upto": 1, "also": [[3, 5], [5, 6]]}', "also:"),
                     ('{"upto": 1, "also": [[3]]}', "also:"),
                     ('{"upto": 1, "also": {"a": 1}}', "also:"),
                     ('{"upto": 1, "also": [[3, 4.5]]}', "also:")):
        refused(receipts.decode_receipt, bad, why)
    many = [[i * 3, i * 3 + 1] for i in range(1, receipts.MAX_RANGES + 2)]
    refused(receipts.decode_receipt, json.dumps({"upto": 0, "also": many}), "also:")


def case_receipt_coalescing():
    add = receipts.receipt_add
    r = (0, [])
    r = add(r[0], r[1], 5, 7)          # 1..4 not yet: a range above upto
    assert r == (0, [[5, 7]]), r
    r = add(r[0], r[1], 9, 9)
    assert r == (0, [[5, 7], [9, 9]]), r
    r = add(r[0], r[1], 8, 8)          # touching ranges merge
    assert r == (0, [[5, 9]]), r
    r = add(r[0], r[1], 1, 4)          # the prefix arrives: everything folds into upto
    assert r == (9, []), r
    r = add(r[0], r[1], 3, 6)          # a redelivery below upto changes nothing
    assert r == (9, []), r
    # seq 10 never comes (torn on the kiosk): later ranges still cover, then the kiosk's
    # "settled" moves upto past the hole.
    r = add(r[0], r[1], 11, 60)
    assert r == (9, [[11, 60]]) and not receipts.receipt_covers(r, 10), r
    r = receipts.receipt_settle(r[0], r[1], 10)
    assert r == (60, []), r
    assert receipts.receipt_settle(60, [], None) == (60, [])
    # Bounded: the lowest ranges go first, the receipt stays small.
    up, rs = 0, []
    for i in range(1, 100):
        up, rs = add(up, rs, i * 10, i * 10 + 2)
    assert len(rs) == receipts.MAX_RANGES and rs[-1] == [990, 992], rs[-3:]
    assert len(receipts.encode_receipt(up, rs)) < v1.MAX_PAYLOAD


def case_config_offers():
    offers = {"basics": {"en": "Library North, Tue 10-12", "nl": "Bibliotheek Noord, di 10-12"},
              "work": {"nl": "Werkplein, elke ochtend"}}
    cfg = v1.decode_config(json.dumps({"rev": 3, "offers": offers}))
    assert cfg["offers"] == offers, cfg
    assert v1.offer_text(cfg, "basics", "nl") == "Bibliotheek Noord, di 10-12"
    assert v1.offer_text(cfg, "basics", "fr") == "Library North, Tue 10-12"
    assert v1.offer_text(cfg, "work", "en") == "Werkplein, elke ochtend"
    assert v1.offer_text(cfg, "safety", "en") is None
    assert v1.offer_text(v1.decode_config('{"rev": 1}'), "basics") is None
    assert "offers" not in v1.decode_config('{"rev": 1, "offers": null}')
    refused(v1.decode_config, '{"rev": 1, "offers": []}', "offers:")
    refused(v1.decode_config, '{"rev": 1, "offers": {"Bad!": {"en": "x"}}}', "offers: bad category")
    refused(v1.decode_config, '{"rev": 1, "offers": {"basics": {}}}', "offers.basics:")
    refused(v1.decode_config, '{"rev": 1, "offers": {"basics": {"en": 5}}}', "offers.basics.en:")
    refused(v1.decode_config, '{"rev": 1, "offers": {"basics": {"EN!": "x"}}}',
            "offers.basics: bad language")
    refused(v1.decode_config, json.dumps({"rev": 1, "offers": {"basics": {"en": "x" * 201}}}),
            "offers.basics.en:")
    many = dict(("c%d" % i, {"en": "x"}) for i in range(9))
    refused(v1.decode_config, json.dumps({"rev": 1, "offers": many}), "offers:")


def main():
    run_cases(globals())


if __name__ == "__main__":
    main()
