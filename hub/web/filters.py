"""The filters every page and API route shares: ?from=&to=&district=&kiosk=&question=.

Dates are ISO dates (YYYY-MM-DD) in the city's time zone, both ends inclusive. A bad value is
a BadParam whose message the API returns with status 400. The filters round-trip to a query
string so every filtered view has a shareable URL.

Bounds (issue 14): a date must lie in FIRST_DATE..LAST_DATE (what a kiosk's tap time may be),
and a range with both ends at most MAX_SPAN_DAYS long, so no request makes the hub build a
series of thousands of years (9999-12-31 was a 500; 0001..9999 was 11 MB for a viewer).
Longer periods are read in pieces of at most that span.
"""
import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from hub.store.days import FAR_FUTURE, FAR_PAST, day_date, day_number
from protocol.v1 import valid_kiosk_id, valid_question_id

NAMES = ("from", "to", "district", "kiosk", "question")
FIRST_DATE = datetime.date(2000, 1, 1)
LAST_DATE = datetime.date(2099, 12, 31)
MAX_SPAN_DAYS = 3660  # ten years


class BadParam(ValueError):
    """A request parameter that cannot be used; str() is the message for the client."""


@dataclass
class Filters:
    start: int = None      # day number, inclusive
    end: int = None        # day number, inclusive
    district: str = None
    kiosk: str = None
    question: str = None

    def day_range(self):
        """(first day, last day) to read, an open end standing for every day there is."""
        return (FAR_PAST if self.start is None else self.start,
                FAR_FUTURE if self.end is None else self.end)

    def query(self, **extra):
        d = {"from": self.start is not None and day_date(self.start).isoformat(),
             "to": self.end is not None and day_date(self.end).isoformat(),
             "district": self.district, "kiosk": self.kiosk, "question": self.question}
        d.update(extra)
        return urlencode([(k, v) for k, v in d.items() if v])

    def as_json(self):
        return {"from": self.start is not None and day_date(self.start).isoformat() or None,
                "to": self.end is not None and day_date(self.end).isoformat() or None,
                "district": self.district, "kiosk": self.kiosk, "question": self.question}


def _date(name, v):
    try:
        if len(v) != 10:
            raise ValueError
        d = datetime.date.fromisoformat(v)
    except ValueError:
        raise BadParam("%s: %r is not an ISO date (YYYY-MM-DD)" % (name, v[:40]))
    if not FIRST_DATE <= d <= LAST_DATE:
        raise BadParam("%s: %s is outside %s..%s" % (name, v, FIRST_DATE, LAST_DATE))
    return day_number(d)


def parse(args, allowed=NAMES):
    """Filters from request args; BadParam for a bad or unknown-but-filter-like value."""
    f = Filters()
    for name in args:
        if name in NAMES and name not in allowed:
            raise BadParam("%s: not a filter of this route" % name)
    if args.get("from"):
        f.start = _date("from", args["from"])
    if args.get("to"):
        f.end = _date("to", args["to"])
    if f.start is not None and f.end is not None and f.start > f.end:
        raise BadParam("from: %s is after to: %s" % (args["from"], args["to"]))
    if f.start is not None and f.end is not None and f.end - f.start + 1 > MAX_SPAN_DAYS:
        raise BadParam("from..to: at most %d days at once; ask for longer periods in pieces"
                       % MAX_SPAN_DAYS)
    if args.get("district"):
        v = args["district"]
        if len(v) > 64 or any(ord(c) < 32 for c in v):
            raise BadParam("district: at most 64 printable characters")
        f.district = v
    if args.get("kiosk"):
        if not valid_kiosk_id(args["kiosk"]):
            raise BadParam("kiosk: %r is not a kiosk id" % args["kiosk"])
        f.kiosk = args["kiosk"]
    if args.get("question"):
        if not valid_question_id(args["question"]):
            raise BadParam("question: %r is not a question id" % args["question"])
        f.question = args["question"]
    return f
