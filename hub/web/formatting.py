"""Numbers, dates and names as a reader of the page's language expects them (Babel): 1.000.000
and 78,6 in Dutch, 1,000,000 and 78.6 in English; dates in the city's time zone; skill
categories and problem codes in words, never as ids or field names.
"""
import datetime
import zoneinfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from flask import g

from hub.store.rollups import city_tz
from hub.web.db import get_db
from hub.web.i18n import _, current_lang

# The hub's skill categories (protocol/v1.py DEFAULT_SKILLS), in words, with one line each.
SKILLS = {
    "basics": ("Internet basics", "Using a computer or phone, browsing, e-mail."),
    "eservices": ("Online public services", "DigiD, taxes, benefits and city services online."),
    "safety": ("Staying safe online", "Passwords, scams and privacy."),
    "work": ("Digital skills for work", "Applying for jobs and the tools of the workplace."),
}
PROBLEMS = {"offline": "offline", "refusing": "refusing presses (queue full)",
            "crash": "crashed", "clock": "clock not synced", "queue": "taps waiting on the kiosk",
            "config": "config not applied", "missing": "taps missing",
            "firmware": "firmware behind", "update": "firmware update failed"}


def num(value, digits=None):
    """A number in the page's language; '–' for none."""
    if value is None:
        return "–"
    if digits is not None:
        return format_decimal(value, "#,##0." + "0" * digits, locale=current_lang())
    return format_decimal(value, locale=current_lang())


def _zone():
    if "city_zone" not in g:  # once per request, not once per table row
        g.city_zone = zoneinfo.ZoneInfo(city_tz(get_db()))
    return g.city_zone


def when(ts):
    """Unix seconds -> a short date and time in the city's zone and the page's language."""
    if ts is None:
        return "–"
    return format_datetime(datetime.datetime.fromtimestamp(ts, _zone()), "short",
                           locale=current_lang())


def day(iso):
    """'2026-11-30' -> a medium date in the page's language."""
    if not iso:
        return "–"
    return format_date(datetime.date.fromisoformat(iso), "medium", locale=current_lang())


def skill_name(cat):
    return _(SKILLS[cat][0]) if cat in SKILLS else cat


def skill_help(cat):
    return _(SKILLS[cat][1]) if cat in SKILLS else ""


def problem_label(code):
    return _(PROBLEMS.get(code, code))


def init_app(app):
    app.jinja_env.filters["num"] = num
    app.jinja_env.filters["datetime"] = when
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["skill_names"] = lambda pairs: [(skill_name(k), v) for k, v in pairs]
    app.jinja_env.globals.update(skill_name=skill_name, skill_help=skill_help,
                                 problem_label=problem_label, fmt_num=num, fmt_day=day)
