"""Days as the aggregates count them: whole local days in the city's time zone, numbered from
1970-01-01 (day 0), so a date range is two integers and a day's rows are one index range.
"""
import datetime
import zoneinfo

from hub.store.rollups import EPOCH_ORDINAL

# Bounds for an open end of a date range: before and after any day the hub can hold.
FAR_PAST, FAR_FUTURE = -10 ** 6, 10 ** 7


def day_number(d):
    return d.toordinal() - EPOCH_ORDINAL


def day_date(n):
    return datetime.date.fromordinal(n + EPOCH_ORDINAL)


def today(tzname, now=None):
    t = datetime.datetime.fromtimestamp(now if now is not None else
                                        datetime.datetime.now().timestamp(),
                                        zoneinfo.ZoneInfo(tzname))
    return day_number(t.date())


def day_start_ts(day, tzname):
    """Unix time of local midnight starting `day`."""
    d = day_date(day)
    return int(datetime.datetime(d.year, d.month, d.day,
                                 tzinfo=zoneinfo.ZoneInfo(tzname)).timestamp())
