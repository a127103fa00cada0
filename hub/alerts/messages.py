"""An alert in words: its message in a language, with times in the city's zone and numbers in
that language's format (Babel). The Alerts page, the e-mail and the webhook all use it, so an
alert reads the same wherever it is seen.
"""
import datetime
import json
import zoneinfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

from hub.web.i18n import translate


def when(ts, lang, tzname):
    """Unix seconds -> a medium date and time in lang, in the city's zone."""
    t = datetime.datetime.fromtimestamp(ts, zoneinfo.ZoneInfo(tzname))
    return format_datetime(t, "medium", locale=lang)


def subject_label(alert, lang="en"):
    s = alert["subject"]
    if s == "*":
        return translate("the whole city", lang)
    if s.startswith("d:"):
        return translate("district %(name)s", lang, name=s[2:])
    return translate("kiosk %(id)s", lang, id=s)


def describe(alert, lang, tzname):
    """The alert's message for a reader of lang (alert: a row of alerts as a dict)."""
    detail = alert.get("detail")
    if isinstance(detail, str):
        detail = json.loads(detail)
    if not detail:
        return alert["message"]   # an alert from before details were kept
    kind, kiosk = alert["kind"], subject_label(alert, lang)
    n = lambda v: format_decimal(v, locale=lang)  # noqa: E731
    if kind == "offline":
        return translate("%(kiosk)s has not been heard from since %(time)s", lang,
                         kiosk=kiosk, time=when(detail["since"], lang, tzname))
    if kind == "refusing":
        return translate("%(kiosk)s turned %(n)s presses away: its queue is full", lang,
                         kiosk=kiosk, n=n(detail["refused"]))
    if kind == "crash-loop":
        return translate("%(kiosk)s crashed %(n)s times in the last hour", lang,
                         kiosk=kiosk, n=n(detail["crashes"]))
    if kind == "clock-unsynced":
        return translate("%(kiosk)s has not synced its clock after %(n)s minutes", lang,
                         kiosk=kiosk, n=n(detail["minutes"]))
    if kind == "queue-growing":
        return translate("%(kiosk)s has %(n)s taps waiting, not going down since %(time)s",
                         lang, kiosk=kiosk, n=n(detail["queue"]),
                         time=when(detail["since"], lang, tzname))
    if kind == "flash-reset":
        return translate("%(kiosk)s counts its boots from the start again: its flash was "
                         "formatted and its queued taps are lost; flash it under a new kiosk "
                         "id", lang, kiosk=kiosk)
    return translate("The mood index of %(where)s fell from %(before)s to %(after)s over "
                     "%(days)s days", lang, where=subject_label(alert, lang),
                     before=format_decimal(detail["before"], "0.0", locale=lang),
                     after=format_decimal(detail["after"], "0.0", locale=lang),
                     days=detail["days"])


def headline(alert, event, lang, tzname):
    """One line for a mail subject: what happened to what."""
    what = translate("Alert" if event == "opened" else "Resolved", lang)
    return "[civic] %s: %s" % (what, describe(alert, lang, tzname))
