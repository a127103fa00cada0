"""protocol/updates.py checks that run unchanged on CPython and on the MicroPython unix port
(tests/test_protocol_updates.py runs them on both)."""
import hashlib

from protocol import updates as u
from protocol.v1 import ProtocolError
from tests.support.mp_cases import run_cases

KEY = bytes(range(32))
SHA = hashlib.sha256(b"x").digest()
HEX = "".join(["%02x" % b for b in SHA])
OFFER = {"v": "1.1.0", "n": 3, "mpy": "6.3", "min_mp": "1.22.0", "chunk_max": 1024,
         "files": [["app.mpy", 23456, HEX], ["lib/protocol/v1.mpy", 8123, HEX]]}


def refused(fn, arg, reason_start):
    try:
        fn(arg)
    except ProtocolError as e:
        assert str(e).startswith(reason_start), str(e)
        return
    raise AssertionError("accepted: %r" % (arg,))


def case_hmac_rfc4231():
    # RFC 4231 test cases 1 and 2 (and 6: a key longer than the block).
    mac = u.hmac_sha256(b"\x0b" * 20, b"Hi There")
    assert u._hex(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    mac = u.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert u._hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    mac = u.hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")
    assert u._hex(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def case_offer_text_is_canonical():
    t = u.offer_text("k-1", OFFER)
    assert t == (b"civic-fw-offer\nk-1\n1.1.0\n3\n6.3\n1.22.0\n1024\n"
                 b"app.mpy 23456 " + HEX.encode() + b"\nlib/protocol/v1.mpy 8123 "
                 + HEX.encode() + b"\n"), t


def case_sign_and_check():
    signed = u.sign_offer("k-1", OFFER, KEY)
    assert "mac" not in OFFER and len(signed["mac"]) == 64
    assert u.check_mac("k-1", signed, KEY)
    assert not u.check_mac("k-2", signed, KEY)          # bound to the kiosk
    assert not u.check_mac("k-1", signed, b"\x01" * 32)  # and to its key
    assert not u.check_mac("k-1", dict(signed, n=4), KEY)
    assert not u.check_mac("k-1", dict(signed, mac=None), KEY)
    assert not u.check_mac("k-1", signed, b"")
    files = [list(f) for f in signed["files"]]
    files[0][2] = HEX[:-1] + "0"
    assert not u.check_mac("k-1", dict(signed, files=files), KEY)


def case_offer_round_trip():
    signed = u.sign_offer("k-1", OFFER, KEY)
    back = u.decode_offer(u.encode_offer(signed))
    assert back == signed, back
    assert u.check_mac("k-1", back, KEY)
    assert u.decode_offer(b"") is None and u.decode_offer(None) is None
    assert u.offer_total(back) == 23456 + 8123


def case_offer_refused():
    import json
    base = u.sign_offer("k-1", OFFER, KEY)

    def bad(change, reason):
        d = dict(base)
        d.update(change)
        refused(u.decode_offer, json.dumps(d), reason)

    bad({"v": "1.1.0!"}, "v:")
    bad({"v": ""}, "v:")
    bad({"v": "x" * 33}, "v:")
    bad({"n": 0}, "n:")
    bad({"n": True}, "n:")
    bad({"mpy": "six"}, "mpy:")
    bad({"min_mp": "1..2"}, "min_mp:")
    bad({"chunk_max": 4096}, "chunk_max:")
    bad({"chunk_max": 0}, "chunk_max:")
    bad({"files": []}, "files:")
    bad({"files": [["a.mpy", 1, HEX]] * 2}, "files[1]: a.mpy listed twice")
    bad({"files": [["../x.mpy", 1, HEX]]}, "files[0]: bad path")
    bad({"files": [["/x.mpy", 1, HEX]]}, "files[0]: bad path")
    bad({"files": [["a//x.mpy", 1, HEX]]}, "files[0]: bad path")
    bad({"files": [["A.mpy", 1, HEX]]}, "files[0]: bad path")
    bad({"files": [["main.py", 1, HEX]]}, "files[0]: main.py belongs to the loader")
    bad({"files": [["bootsel.mpy", 1, HEX]]}, "files[0]: bootsel.mpy belongs to the loader")
    bad({"files": [["a.mpy", -1, HEX]]}, "files[0]: size")
    bad({"files": [["a.mpy", 1, HEX.upper()]]}, "files[0]: sha256")
    bad({"files": [["a.mpy", 1]]}, "files[0]: not")
    bad({"files": [["f%d.mpy" % i, 1, HEX] for i in range(41)]}, "files:")
    bad({"mac": "zz"}, "mac:")
    refused(u.decode_offer, b"[1]", "bad-json:")


def case_cannot_run():
    assert u.cannot_run(OFFER, (6, 3), (1, 23, 0)) is None
    assert u.cannot_run(OFFER, (6, 3), (1, 22, 0)) is None
    assert u.cannot_run(OFFER, (6, 1), (1, 23, 0)) == "mpy: needs 6.3, runs 6.1"
    assert u.cannot_run(OFFER, (5, 3), (1, 23, 0)) == "mpy: needs 6.3, runs 5.3"
    assert u.cannot_run(dict(OFFER, min_mp="1.30.0"), (6, 3), (1, 27, 0)) == \
        "micropython: needs 1.30.0, runs 1.27.0"


def case_versions():
    assert u.valid_version("1.1.0") and u.valid_version("2.0.0-rc1+b7")
    assert not u.valid_version("-1") and not u.valid_version("1 0") and not u.valid_version(1)
    assert u.version_tuple("1.22.0") == (1, 22, 0)
    assert u.version_tuple("1.23.0-preview") == (1, 23, 0)
    assert u.version_tuple("1.10") > u.version_tuple("1.9.9")


def case_fetch():
    p = u.encode_fetch("1.1.0", 3, 1, 2048, 1024)
    assert u.decode_fetch(p) == {"v": "1.1.0", "n": 3, "f": 1, "off": 2048, "len": 1024}
    refused(u.decode_fetch, u.encode_fetch("1.1.0", 3, 40, 0, 1024), "f:")
    refused(u.decode_fetch, u.encode_fetch("1.1.0", 3, 0, -1, 1024), "off:")
    refused(u.decode_fetch, u.encode_fetch("1.1.0", 3, 0, 0, 2049), "len:")
    refused(u.decode_fetch, u.encode_fetch("1.1.0", 3, 0, 0, 0), "len:")
    refused(u.decode_fetch, u.encode_fetch("1.1.0", 0, 0, 0, 1), "n:")
    refused(u.decode_fetch, u.encode_fetch("../", 1, 0, 0, 1), "v:")


def case_chunk():
    data = bytes(range(256)) * 8
    p = u.encode_chunk("1.1.0", 2, 4096, data)
    assert len(p) < 4096
    c = u.decode_chunk(p)
    assert c == {"v": "1.1.0", "f": 2, "off": 4096, "data": data}, c
    e = u.decode_chunk(u.encode_chunk_error("1.1.0", "not offered"))
    assert e == {"v": "1.1.0", "error": "not offered"}
    refused(u.decode_chunk, b'{"v": "1.1.0", "f": 0, "off": 0, "data": "!!"}', "data:")
    refused(u.decode_chunk, b'{"v": "1.1.0", "f": 0, "off": 0, "data": ""}', "data:")
    refused(u.decode_chunk, b'{"v": "1.1.0", "f": 0, "off": 0}', "data:")
    refused(u.decode_chunk, b'{"v": "1.1.0", "f": 0, "data": "AAAA"}', "off:")
    refused(u.decode_chunk, u.encode_chunk("1.1.0", 0, 0, b"x" * 2049), "data:")


def case_progress():
    p = u.encode_progress("1.1.0", 3, "downloading", 40960, 81234)
    assert p == {"v": "1.1.0", "n": 3, "state": "downloading", "done": 40960, "total": 81234,
                 "reason": None}
    assert u.check_progress(p) == p
    long = u.check_progress(dict(p, state="failed", reason="x" * 300 + "end"))
    assert len(long["reason"]) == 200 and long["reason"].endswith("end")
    assert u.check_progress({"v": "1.0.0", "n": 0, "state": "rolled_back"})["done"] == 0
    for s in u.STATES:
        u.check_progress(dict(p, state=s))
    refused(u.check_progress, dict(p, state="done"), "update.state:")
    refused(u.check_progress, dict(p, v=""), "update.v:")
    refused(u.check_progress, dict(p, done=-1), "update.done:")
    refused(u.check_progress, dict(p, reason=5), "update.reason:")
    refused(u.check_progress, [], "update:")


def main():
    run_cases(globals())


if __name__ == "__main__":
    main()
