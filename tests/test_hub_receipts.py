"""hub/ingest/receipts.py on its own (coalescing, timing), then the ingest publishing receipts on a
real Mosquitto."""
import protocol
from hub.ingest.receipts import Receipts
from tests.support.ingest_tools import Publisher, lossless_broker, wait_count
from tests.support.procs import wait_until
from tests.test_ingest_configs import Retained, start, stop


def test_a_busy_kiosk_gets_a_few_receipts_a_second_a_quiet_one_one_per_batch():
    r = Receipts(every_s=0.25)
    r.committed("busy", [1, 2, 3], settled=0)
    r.committed("quiet", [7])
    assert [k for k, _ in r.due(10.0)] == ["busy", "quiet"]
    # The busy kiosk's next commits within EVERY_S wait and go out as one receipt.
    r.committed("busy", [4, 5])
    r.committed("busy", [6])
    assert r.due(10.1) == [] and abs(r.wait(10.1, 5) - 0.15) < 1e-9
    (k, payload), = r.due(10.25)
    assert k == "busy" and protocol.decode_receipt(payload) == (6, [])
    assert r.due(11.0) == [] and r.wait(11.0, 5) == 5     # nothing new: nothing sent
    # The quiet kiosk (no settled field: old firmware) gets ranges, folded as they meet.
    r.committed("quiet", [9, 8])
    (k, payload), = r.due(11.0)
    assert protocol.decode_receipt(payload) == (0, [[7, 9]])


def test_a_seq_that_never_comes_does_not_stall_the_receipt():
    r = Receipts()
    r.committed("k", range(1, 51), settled=0)
    r.committed("k", range(52, 101), settled=50)     # seq 51 was torn on the kiosk
    up, also = protocol.decode_receipt(r.due(1.0)[0][1])
    assert (up, also) == (50, [[52, 100]])
    # The kiosk deletes 52..100 (covered), and its next message says 51 is settled on its side.
    r.committed("k", [101], settled=100)
    assert protocol.decode_receipt(r.due(2.0)[0][1]) == (101, [])


def test_a_resent_batch_is_receipted_again_and_a_lost_broker_gets_all_again():
    r = Receipts()
    items = [((("taps", "k", (1, [(s, None, "mood", 1, None) for s in (5, 6)], 4)),), None)]
    r.note_batch([i[0] for i in items])
    assert protocol.decode_receipt(r.due(1.0)[0][1]) == (6, [])
    r.note_batch([i[0] for i in items])    # duplicates are committed too: receipted again
    assert protocol.decode_receipt(r.due(2.0)[0][1]) == (6, [])
    r.all_again()
    assert [k for k, _ in r.due(2.01)] == ["k"]


def test_the_ingest_publishes_retained_receipts_after_the_commit(tmp_path):
    mq = lossless_broker(tmp_path / "broker")
    hubdb = str(tmp_path / "hub.db")
    ing = start(hubdb, mq)
    pub = Publisher(mq.port)
    try:
        pub.taps("k1", range(1, 201), per_msg=7)
        pub.taps("k2", [1, 2, 5], per_msg=1)
        assert pub.wait()
        assert wait_count(hubdb, 203)
        sub = Retained(mq.port, "civic/v1/+/receipt")
        try:
            def final():
                got = {k: protocol.decode_receipt(p) for k, p in sub.got.items()}
                return got == {"k1": (200, []), "k2": (2, [[5, 5]])} and got
            assert wait_until(final, 10), sub.got
        finally:
            sub.close()
        assert 2 <= ing.metrics.receipts_published < 80   # coalesced, not one per message
    finally:
        pub.close()
        stop(ing)
        mq.kill()


def test_taps_the_hub_refuses_for_good_are_receipted_as_settled():
    # A tap dated far ahead of the hub's clock is never stored (a rejects row says why). If no
    # receipt covered it, the kiosk would keep it on flash and send it for ever.
    import time
    from hub.ingest.validate import classify
    now = int(time.time())
    good = {"seq": 3, "ts": now, "kind": "mood", "value": 1, "q": None}
    ahead = {"seq": 4, "ts": 4102444000, "kind": "mood", "value": 1, "q": None}
    mixed = classify("civic/v1/k/taps", protocol.encode_taps(1, [good, ahead], settled=2))
    alone = classify("civic/v1/k/taps", protocol.encode_taps(1, [dict(ahead, seq=5)]))
    assert mixed[0] == "taps" and [r[0] for r in mixed[2][1]] == [3] and mixed[2][3] == [3, 4]
    assert alone[0] == "taps" and alone[2][1] == [] and alone[2][3] == [5]
    r = Receipts()
    r.note_batch([(mixed,), (alone,)])
    assert protocol.decode_receipt(r.due(1.0)[0][1]) == (5, [])
