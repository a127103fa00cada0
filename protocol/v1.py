"""Topics and payloads of protocol v1 (docs/PROTOCOL.md explains them).

Every decode_* validates completely and raises ProtocolError with a short, stable reason
("bad-json: ...", "field: ...") that the hub stores in its rejects table. Extra fields are
ignored; missing or ill-typed required fields are refused.
"""
import json

VERSION = "v1"
ROOT = "civic/v1"
MAX_PAYLOAD = 4096
MAX_TAPS = 50
# Per kiosk: what it writes and what it reads (the broker ACLs are written from these two).
# fetch/update/chunk carry firmware updates (docs/UPDATES.md): the hub offers a release on
# `update` (retained), the kiosk asks for pieces on `fetch` and gets them on `chunk`.
KIOSK_WRITES = ("taps", "status", "fetch")
KIOSK_READS = ("config", "receipt", "update", "chunk")
CHANNELS = ("taps", "status", "config", "receipt", "fetch", "update", "chunk")
MOOD_MIN = 1
MOOD_MAX = 4
MAX_OFFERS = 8          # help offers in one config: one per skill category at most
MAX_OFFER_TEXT = 200    # characters of one offer's text in one language
DEFAULT_SKILLS = ("basics", "eservices", "safety", "work")
# What a kiosk uses until its first config arrives (docs/PROTOCOL.md).
DEFAULT_CONFIG = {"rev": 0, "question": None, "skills": list(DEFAULT_SKILLS),
                  "cooldown_ms": 2000, "burst_max": 20, "burst_window_ms": 10000}
MAX_SEQ = (1 << 53) - 1      # exact in JSON doubles and SQLite integers alike
MAX_TS = 4102444800          # 2100-01-01: anything later is a broken clock, not a press
MIN_TS = 1262304000          # 2010-01-01: a Pico W clock that never synced says 2021 or 1970
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


class ProtocolError(ValueError):
    """A message that does not follow protocol v1; str(e) is the reason to record."""


def _is_int(v):
    return type(v) is int  # bool is not a number here, on either interpreter


def _ident(s, extra, maxlen):
    # ^[a-z0-9][a-z0-9<extra>]{0,maxlen-1}$ without the re module.
    if type(s) is not str or not 0 < len(s) <= maxlen or s[0] not in _ALNUM:
        return False
    for c in s:
        if c not in _ALNUM and c not in extra:
            return False
    return True


def valid_kiosk_id(kid):
    return _ident(kid, "-", 32)


def valid_category(cat):
    return _ident(cat, "-_", 32)


def valid_question_id(qid):
    return _ident(qid, "-_.", 64)


def topic(kiosk, channel):
    if not valid_kiosk_id(kiosk):
        raise ProtocolError("topic: bad kiosk id %r" % (kiosk,))
    if channel not in CHANNELS:
        raise ProtocolError("topic: unknown channel %r" % (channel,))
    return ROOT + "/" + kiosk + "/" + channel


def every_kiosk(channel):
    """The subscription filter for one channel of every kiosk: 'civic/v1/+/<channel>'."""
    if channel not in CHANNELS:
        raise ProtocolError("topic: unknown channel %r" % (channel,))
    return ROOT + "/+/" + channel


def parse_topic(t):
    """'civic/v1/<kiosk>/<channel>' -> (kiosk, channel), or ProtocolError."""
    if isinstance(t, bytes):
        try:
            t = t.decode()
        except Exception:
            raise ProtocolError("topic: not UTF-8")
    parts = t.split("/")
    if len(parts) != 4 or parts[0] + "/" + parts[1] != ROOT:
        raise ProtocolError("topic: not civic/v1/<kiosk>/<channel>")
    if not valid_kiosk_id(parts[2]):
        raise ProtocolError("topic: bad kiosk id")
    if parts[3] not in CHANNELS:
        raise ProtocolError("topic: unknown channel")
    return parts[2], parts[3]


# CPython: the JSON scanner without json.loads' two whitespace regexes (a third of its time on a
# one-tap payload, and the hub decodes tens of thousands a second). MicroPython has no
# JSONDecoder and uses json.loads.
_decoder_class = getattr(json, "JSONDecoder", None)
_raw_decode = _decoder_class().raw_decode if _decoder_class else None


def _load(payload):
    if isinstance(payload, str):
        payload = payload.encode()
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("oversize: %d bytes > %d" % (len(payload), MAX_PAYLOAD))
    try:
        text = str(payload, "utf-8")
    except Exception:
        raise ProtocolError("bad-utf8: payload is not UTF-8")
    try:
        if _raw_decode is None:
            obj = json.loads(text)
        else:
            text = text.strip(" \t\n\r")  # the whitespace JSON allows around a value
            obj, end = _raw_decode(text)
            if end != len(text):
                raise ValueError("extra data")
    except Exception:
        raise ProtocolError("bad-json: payload is not JSON")
    if type(obj) is not dict:
        raise ProtocolError("bad-json: payload is not a JSON object")
    return obj


def _dump(obj):
    b = json.dumps(obj).encode()
    if len(b) > MAX_PAYLOAD:
        raise ProtocolError("oversize: %d bytes > %d" % (len(b), MAX_PAYLOAD))
    return b


def _need_int(obj, key, lo, hi, where=""):
    v = obj.get(key) if type(obj) is dict else None
    if not _is_int(v):
        raise ProtocolError("%s%s: missing or not an integer" % (where, key))
    if v < lo or v > hi:
        raise ProtocolError("%s%s: %d out of range %d..%d" % (where, key, v, lo, hi))
    return v


# Identifiers already found valid, so the hub does not re-check "q-7" on every tap. Bounded
# (cleared when full): on a kiosk this stays a few hundred bytes.
_VALID_Q = set()  # type: set[str]
_VALID_CAT = set()  # type: set[str]
_VALID_MAX = 256


def _remember(known, s):
    if len(known) >= _VALID_MAX:
        known.clear()
    known.add(s)


def tap_row(t, i=0):
    """Validate one TAP dict -> the tuple (seq, ts, kind, value, q) the hub stores."""
    if type(t) is not dict:
        raise ProtocolError("taps[%d]: not an object" % i)
    # Fast path for the well-formed tap (the hub checks thousands per second); any failure
    # goes through _need_int/the checks below for the same reason text as always.
    seq = t.get("seq")
    ts = t.get("ts")
    kind = t.get("kind")
    value = t.get("value")
    q = t.get("q")
    if type(seq) is not int or seq < 0 or seq > MAX_SEQ:
        _need_int(t, "seq", 0, MAX_SEQ, "taps[%d]." % i)
    if ts is not None:
        if type(ts) is not int or ts < MIN_TS or ts > MAX_TS:
            _need_int(t, "ts", MIN_TS, MAX_TS, "taps[%d]." % i)
    elif "ts" not in t:
        raise ProtocolError("taps[%d].ts: missing (use null when the time is unknown)" % i)
    if kind == "mood":
        if type(value) is not int or value < MOOD_MIN or value > MOOD_MAX:
            _need_int(t, "value", MOOD_MIN, MOOD_MAX, "taps[%d]." % i)
        if q is not None and (type(q) is not str or q not in _VALID_Q):
            if not valid_question_id(q):
                raise ProtocolError("taps[%d].q: not a question id" % i)
            _remember(_VALID_Q, q)
    elif kind == "skill":
        if type(value) is not str or value not in _VALID_CAT:
            if not valid_category(value):
                raise ProtocolError("taps[%d].value: not a skill category id" % i)
            _remember(_VALID_CAT, value)
        if q is not None:
            raise ProtocolError("taps[%d].q: must be null for a skill tap" % i)
    elif kind is None:
        raise ProtocolError("taps[%d].kind: missing" % i)
    else:
        raise ProtocolError("taps[%d].kind: unknown kind %r" % (i, kind))
    return (seq, ts, kind, value, q)


def check_tap(t, i=0):
    """Validate one TAP dict and return the normalised copy."""
    seq, ts, kind, value, q = tap_row(t, i)
    return {"seq": seq, "ts": ts, "kind": kind, "value": value, "q": q}


def encode_taps(boot, taps, settled=None):
    d = {"boot": boot, "taps": taps}
    if settled is not None:
        d["settled"] = settled
    return _dump(d)


def decode_tap_rows(payload):
    """-> (boot, [(seq, ts, kind, value, q), ...]): decode_taps as tuples (what the hub stores)."""
    return decode_tap_batch(payload)[:2]


def decode_tap_batch(payload):
    """-> (boot, rows as decode_tap_rows gives them, settled): settled is the kiosk's optional
    "settled" field (every seq of the kiosk <= it is settled: receipted, or never stored), or
    None when absent or ill-typed (old firmware sends none; a receipt then just lists ranges)."""
    obj = _load(payload)
    settled = obj.get("settled")
    if not _is_int(settled) or not 0 <= settled <= MAX_SEQ:
        settled = None
    boot = _need_int(obj, "boot", 0, MAX_SEQ)
    taps = obj.get("taps")
    if type(taps) is not list:
        raise ProtocolError("taps: missing or not a list")
    if not 1 <= len(taps) <= MAX_TAPS:
        raise ProtocolError("taps: %d taps, want 1..%d" % (len(taps), MAX_TAPS))
    return boot, [tap_row(taps[i], i) for i in range(len(taps))], settled


def decode_taps(payload):
    """-> {"boot": int, "taps": [normalised TAP, ...]}"""
    boot, rows = decode_tap_rows(payload)
    return {"boot": boot, "taps": [{"seq": r[0], "ts": r[1], "kind": r[2], "value": r[3],
                                    "q": r[4]} for r in rows]}


STATUS_INTS = ("boot", "uptime", "queue", "mem_free", "config_rev", "filtered", "refused",
               "damaged")
CRASH_MAX = 200  # characters of the last crash's traceback a status carries (its tail)


def encode_status(online, **fields):
    d = {"online": online}
    d.update(fields)
    return _dump(d)


def decode_status(payload):
    """A status heartbeat or the last will {"online": false}. Optional fields are kept when
    well-typed and dropped (not refused) when absent, so an old firmware still registers."""
    obj = _load(payload)
    online = obj.get("online")
    if online is not True and online is not False:
        raise ProtocolError("online: missing or not a boolean")
    out = {"online": online}
    fw = obj.get("fw")
    if fw is not None:
        if type(fw) is not str or len(fw) > 32:
            raise ProtocolError("fw: not a short string")
        out["fw"] = fw
    for k in STATUS_INTS + ("ts",):
        if k in obj and obj[k] is not None:
            out[k] = _need_int(obj, k, 0, MAX_SEQ)
    if "rssi" in obj and obj["rssi"] is not None:
        out["rssi"] = _need_int(obj, "rssi", -200, 0)
    if "synced" in obj and obj["synced"] is not None:
        if obj["synced"] is not True and obj["synced"] is not False:
            raise ProtocolError("synced: not a boolean")
        out["synced"] = obj["synced"]
    crash = obj.get("crash")
    if crash is not None:
        if type(crash) is not str:
            raise ProtocolError("crash: not a string")
        out["crash"] = crash[-CRASH_MAX:]  # the end of a traceback says most
    return out


def decode_config(payload):
    """A config from the hub, with the defaults filled in for what it leaves out."""
    obj = _load(payload)
    cfg = dict(DEFAULT_CONFIG)
    cfg["rev"] = _need_int(obj, "rev", 0, MAX_SEQ)
    q = obj.get("question")
    if q is not None:
        if type(q) is not dict or not valid_question_id(q.get("id")):
            raise ProtocolError("question: needs an id")
        text = q.get("text")
        if type(text) is not dict or not text:
            raise ProtocolError("question.text: needs at least one language")
        for lang in text:
            if type(lang) is not str or type(text[lang]) is not str or len(text[lang]) > 280:
                raise ProtocolError("question.text: each entry a string of at most 280 characters")
        cfg["question"] = {"id": q["id"], "text": text}
    if "skills" in obj:
        sk = obj["skills"]
        if type(sk) is not list or not 1 <= len(sk) <= 4:
            raise ProtocolError("skills: a list of 1 to 4 category ids")
        for s in sk:
            if not valid_category(s):
                raise ProtocolError("skills: bad category id %r" % (s,))
        cfg["skills"] = sk
    for k in ("cooldown_ms", "burst_max", "burst_window_ms"):
        if k in obj:
            cfg[k] = _need_int(obj, k, 0, 86400000)
    if obj.get("offers") is not None:
        cfg["offers"] = _offers(obj["offers"])
    return cfg


def _offers(offers):
    """{"<category>": {"<lang>": "where to get help", ...}, ...}: the help offer a kiosk shows
    after a press of that skill (its district's, else the city's; the hub chose)."""
    if type(offers) is not dict or len(offers) > MAX_OFFERS:
        raise ProtocolError("offers: an object of at most %d categories" % MAX_OFFERS)
    for cat in offers:
        if not valid_category(cat):
            raise ProtocolError("offers: bad category id %r" % (cat,))
        text = offers[cat]
        if type(text) is not dict or not text:
            raise ProtocolError("offers.%s: needs at least one language" % cat)
        for lang in text:
            if not _ident(lang, "-", 8):
                raise ProtocolError("offers.%s: bad language code %r" % (cat, lang))
            t = text[lang]
            if type(t) is not str or not t or len(t) > MAX_OFFER_TEXT:
                raise ProtocolError("offers.%s.%s: a text of 1 to %d characters"
                                    % (cat, lang, MAX_OFFER_TEXT))
    return offers


def encode_config(cfg):
    return _dump(cfg)


def offer_text(cfg, skill, lang="en"):
    """The help offer a kiosk shows after a press of skill: its language, else English, else
    any; None when the config has none for that skill."""
    text = (cfg.get("offers") or {}).get(skill)
    if not text:
        return None
    return text.get(lang) or text.get("en") or text[sorted(text)[0]]


def question_text(cfg, lang="en"):
    """The text a kiosk shows: its language if given, else English, else any."""
    q = cfg.get("question")
    if not q:
        return None
    text = q["text"]
    return text.get(lang) or text.get("en") or text[sorted(text)[0]]

