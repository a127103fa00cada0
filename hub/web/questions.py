"""Questions: results per question, and creating a question and pushing it to kiosks.

A push writes, for each chosen kiosk, its next config (protocol/v1.py, docs/PROTOCOL.md) into
kiosk_configs with published NULL; the ingest publishes it retained at QoS 1
(hub/ingest/configs.py). rev only grows per kiosk: max(last rev we wrote, rev the kiosk reports)+1.
A kiosk has applied the question when its status reports config_rev >= that rev.
"""
import json
import re
import time

from flask import Blueprint, g, jsonify, redirect, request, url_for

import protocol
from hub.store.rollups import DISTRICT_SCOPES, empty_moods, mood_index
from hub.web import audit
from hub.web.api import Twins, filters
from hub.web.auth import login_required
from hub.web.db import get_db
from hub.web.i18n import _
from hub.web.render import page, respond

bp = Blueprint("questions", __name__)
twins = Twins()


def results(db, f):
    """Per question: count, distribution, index, by district; and where it was pushed."""
    sql = ("SELECT scope, q, value, sum(n) FROM agg_day WHERE kind = 'mood' AND q != '' AND "
           "(scope = '*' OR (%s)) AND day BETWEEN ? AND ?" % DISTRICT_SCOPES)
    args = list(f.day_range())
    if f.question:
        sql += " AND q = ?"
        args.append(f.question)
    if f.district:
        sql += " AND scope IN ('*', ?)"
        args.append("d:" + f.district)
    stats = {}
    for scope, q, value, n in db.execute(sql + " GROUP BY 1, 2, 3", args).fetchall():
        s = stats.setdefault(q, {"city": empty_moods(), "districts": {}})
        into = s["city"] if scope == "*" else s["districts"].setdefault(
            scope[2:], empty_moods())
        into[str(value)] += n
    texts = {r[0]: {"en": r[1], "nl": r[2], "created": r[3]} for r in db.execute(
        "SELECT id, text_en, text_nl, created FROM questions").fetchall()}
    pushes = {}
    for q, kiosk, rev, pushed, have in db.execute(
            "SELECT p.question, p.kiosk, p.rev, p.pushed, k.config_rev FROM question_pushes p "
            "LEFT JOIN kiosks k ON k.id = p.kiosk ORDER BY p.kiosk").fetchall():
        pushes.setdefault(q, []).append({"kiosk": kiosk, "rev": rev, "pushed": pushed,
                                         "config_rev": have,
                                         "applied": have is not None and have >= rev})
    out = []
    ids = set(stats) | (set(texts) if not f.question else {f.question} & set(texts))
    for q in sorted(ids, key=lambda q: (-(texts.get(q, {}).get("created") or 0), q)):
        s = stats.get(q, {"city": empty_moods(), "districts": {}})
        out.append({
            "id": q, "text": {k: v for k, v in texts.get(q, {}).items() if k in ("en", "nl") and v},
            "count": sum(s["city"].values()), "by_value": s["city"],
            "index": mood_index(s["city"]),
            "districts": [{"district": d, "count": sum(bv.values()), "by_value": bv,
                           "index": mood_index(bv)} for d, bv in sorted(s["districts"].items())],
            "pushed_to": pushes.get(q, []),
            "applied": sum(p["applied"] for p in pushes.get(q, [])),
        })
    return {"questions": out}


def create_question(db, qid, text_en, text_nl, user):
    """Validate and store a question. -> its id. ValueError with a message when refused."""
    if not all(v is None or isinstance(v, str) for v in (qid, text_en, text_nl)):
        raise ValueError(_("Question id and texts must be strings."))
    text_en = (text_en or "").strip()
    text_nl = (text_nl or "").strip() or None
    if not text_en or len(text_en) > 280 or (text_nl and len(text_nl) > 280):
        raise ValueError(_("The question text is needed, at most 280 characters per language."))
    qid = (qid or "").strip() or "q-" + time.strftime("%Y%m%d-%H%M%S") + "-" + \
        re.sub(r"[^a-z0-9]+", "-", text_en.lower())[:20].strip("-")
    if not protocol.valid_question_id(qid):
        raise ValueError(_("A question id is lower-case letters, digits, '-', '_' or '.'."))
    if db.execute("SELECT 1 FROM questions WHERE id = ?", [qid]).fetchone():
        raise ValueError(_("A question with this id exists already."))
    db.execute("INSERT INTO questions (id, text_en, text_nl, created, created_by) "
               "VALUES (?, ?, ?, ?, ?)", [qid, text_en, text_nl, int(time.time()), user])
    return qid


def push_question(db, qid, kiosks=(), districts=()):
    """Write the next config carrying question qid for the chosen kiosks and districts'
    kiosks. -> [(kiosk, rev)]. Call inside a transaction."""
    row = db.execute("SELECT text_en, text_nl FROM questions WHERE id = ?", [qid]).fetchone()
    if not row:
        raise ValueError(_("No such question."))
    text = {"en": row[0]}
    if row[1]:
        text["nl"] = row[1]
    targets = set(kiosks)
    for d in districts:
        targets |= {r[0] for r in db.execute("SELECT id FROM kiosks WHERE district = ?", [d])}
    known = {r[0] for r in db.execute("SELECT id FROM kiosks")}
    unknown = targets - known
    if unknown:
        raise ValueError(_("Unknown kiosks: %(ids)s", ids=", ".join(sorted(unknown))))
    if not targets:
        raise ValueError(_("Choose at least one kiosk or district."))
    now, out = int(time.time()), []
    for kiosk in sorted(targets):
        cur = db.execute("SELECT c.rev, c.payload, k.config_rev FROM kiosks k LEFT JOIN "
                         "kiosk_configs c ON c.kiosk = k.id WHERE k.id = ?", [kiosk]).fetchone()
        cfg = json.loads(cur[1]) if cur and cur[1] else dict(protocol.DEFAULT_CONFIG)
        rev = max(cur[0] or 0, cur[2] or 0) + 1
        cfg.update(rev=rev, question={"id": qid, "text": text})
        protocol.decode_config(protocol.encode_config(cfg))  # what the kiosk will accept
        db.execute("INSERT INTO kiosk_configs (kiosk, rev, payload, updated, published) "
                   "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (kiosk) DO UPDATE SET rev = excluded.rev, "
                   "payload = excluded.payload, updated = excluded.updated, published = NULL",
                   [kiosk, rev, json.dumps(cfg), now])
        db.execute("INSERT INTO question_pushes (question, kiosk, rev, pushed) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (question, kiosk) DO UPDATE SET rev = excluded.rev, "
                   "pushed = excluded.pushed", [qid, kiosk, rev, now])
        out.append((kiosk, rev))
    return out


@bp.get("/questions")
@login_required()
def questions():
    return page("questions.html", results, title=_("Questions"),
                twin=url_for("api.questions_json", **request.args),
                error=request.args.get("error"))


@bp.post("/questions")
@login_required("admin")
def create():
    db = get_db()
    try:
        with db.conn:
            qid = create_question(db, request.form.get("id"), request.form.get("text_en"),
                                  request.form.get("text_nl"), g.user["name"])
            kiosks = request.form.getlist("kiosks")
            districts = request.form.getlist("districts")
            if kiosks or districts:
                push_question(db, qid, kiosks, districts)
    except ValueError as e:
        return redirect(url_for("questions.questions", error=str(e)))
    return redirect(url_for("questions.questions", question=qid))


@bp.post("/questions/<qid>/push")
@login_required("admin")
def push(qid):
    db = get_db()
    try:
        with db.conn:
            pushed = push_question(db, qid, request.form.getlist("kiosks"),
                                   request.form.getlist("districts"))
            audit.record(db, "question-push", question=qid, kiosks=[k for k, _r in pushed])
    except ValueError as e:
        return redirect(url_for("questions.questions", error=str(e)))
    return redirect(url_for("questions.questions", question=qid))


@twins.get("/questions")
def questions_json():
    data = results(get_db(), filters())
    rows = [{"id": q["id"], "text": q["text"], "count": q["count"], "by_value": q["by_value"],
             "index": q["index"], "sent_to": len(q["pushed_to"]), "applied": q["applied"]}
            for q in data["questions"]]
    return respond(data, rows, "questions")


@twins.post("/questions")
def questions_create_json():
    """JSON: {"id"?, "text": {"en", "nl"?}, "kiosks": [...], "districts": [...]} (admin)."""
    if g.user["role"] != "admin":
        return jsonify(error="admin role needed"), 403
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # deeply nested JSON: not a question, and never a 500
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("text"), dict):
        return jsonify(error="body: a JSON object with text.en needed"), 400
    for k in ("kiosks", "districts"):
        v = body.get(k)
        if v is not None and (not isinstance(v, list) or
                              not all(isinstance(x, str) for x in v)):
            return jsonify(error="%s: a list of strings" % k), 400
    db = get_db()
    try:
        with db.conn:
            qid = create_question(db, body.get("id"), body["text"].get("en"),
                                  body["text"].get("nl"), g.user["name"])
            pushed = push_question(db, qid, body.get("kiosks") or [], body.get("districts") or []) \
                if body.get("kiosks") or body.get("districts") else []
            audit.record(db, "question-create", question=qid)
            if pushed:
                audit.record(db, "question-push", question=qid, kiosks=[k for k, _r in pushed])
    except (ValueError, TypeError) as e:
        return jsonify(error=str(e)), 400
    return jsonify(id=qid, pushed=[{"kiosk": k, "rev": r} for k, r in pushed]), 201
