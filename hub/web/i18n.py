"""A small gettext-like catalogue: `_("English text")` returns the text in the user's
language. Catalogues are JSON files hub/web/translations/<lang>.json mapping the English text to
the translation; English is the source language. Add a language by adding a file.

The language comes from ?lang=xx (remembered in the session), else the browser's
Accept-Language, else English. Placeholders use %(name)s so word order can change.
"""
import json
import os

from flask import g, has_request_context, request, session

HERE = os.path.join(os.path.dirname(__file__), "translations")
_catalogues = {}


def languages():
    names = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".json"))
    return ["en"] + [n for n in names if n != "en"]


def catalogue(lang):
    if lang not in _catalogues:
        path = os.path.join(HERE, lang + ".json")
        _catalogues[lang] = json.load(open(path, encoding="utf-8")) if os.path.exists(path) else {}
    return _catalogues[lang]


def current_lang():
    if not has_request_context():
        return "en"
    if "lang" not in g:
        want = request.args.get("lang")
        if want in languages():
            session["lang"] = want
        lang = session.get("lang")
        if lang not in languages():
            lang = request.accept_languages.best_match(languages()) or "en"
        g.lang = lang
    return g.lang


def translate(text, lang, **kw):
    """text in lang, outside a request too (an alert's e-mail, a webhook's message)."""
    out = catalogue(lang).get(text, text) if lang != "en" else text
    return out % kw if kw else out


def _(text, **kw):
    return translate(text, current_lang(), **kw)


def init_app(app):
    app.jinja_env.globals["_"] = _
    app.jinja_env.globals["current_lang"] = current_lang
    app.jinja_env.globals["languages"] = languages
