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
from hub.web.filters import BadParam
from hub.web.i18n import _
from hub.web.render import page, respond

bp = Blueprint("questions", __name__)
twins = Twins()


PER_PAGE = 20


def _page_ids(db, f, search, page_no):
    """The ids of one page of questions, newest first, and how many match."""
    # Questions staff wrote, and ids that only answers name (data from before a question was
    # recorded, or seeded): those have no text, so a search never finds them.
    sql = ("SELECT id, created, text_en, text_nl FROM questions UNION ALL "
           "SELECT DISTINCT q, 0, NULL, NULL FROM agg_day WHERE scope = '*' AND kind = 'mood' "
           "AND q != '' AND q NOT IN (SELECT id FROM questions)")
    sql, args = "SELECT id, created FROM (%s) WHERE 1" % sql, []
    if f.question:
        sql += " AND id = ?"
        args.append(f.question)
    if search:
        sql += " AND (instr(lower(id), ?) OR instr(lower(text_en), ?) OR " \
               "instr(lower(coalesce(text_nl, '')), ?))"
        args += [search.lower()] * 3
    total = db.execute("SELECT count(*) FROM (%s)" % sql, args).fetchone()[0]
    ids = [r[0] for r in db.execute(sql + " ORDER BY created DESC, id LIMIT ? OFFSET ?",
                                    args + [PER_PAGE, (page_no - 1) * PER_PAGE])]
    return ids, total


def results(db, f, search=None, page_no=1):
    """One page of questions, newest first: text, created and sent dates, where they were sent
    and who applied them, answers in the filter's period by value and district."""
    ids, total = _page_ids(db, f, search, page_no)
    marks = ", ".join("?" * len(ids))
    sql = ("SELECT scope, q, value, sum(n) FROM agg_day WHERE kind = 'mood' AND q IN (%s) AND "
           "(scope = '*' OR (%s)) AND day BETWEEN ? AND ?" % (marks, DISTRICT_SCOPES))
    args = ids + list(f.day_range())
    if f.district:
        sql += " AND scope IN ('*', ?)"
        args.append("d:" + f.district)
    stats = {}
    for scope, q, value, n in db.execute(sql + " GROUP BY 1, 2, 3", args).fetchall():
        s = stats.setdefault(q, {"city": empty_moods(), "districts": {}})
        into = s["city"] if scope == "*" else s["districts"].setdefault(
            scope[2:], empty_moods())
        into[str(value)] += n
    info = {r[0]: r[1:] for r in db.execute(
        "SELECT id, text_en, text_nl, created, created_by FROM questions WHERE id IN (%s)"
        % marks, ids)}
    pushes = {}
    for q, kiosk, rev, pushed, have, applied_at in db.execute(
            "SELECT p.question, p.kiosk, p.rev, p.pushed, k.config_rev, p.applied "
            "FROM question_pushes p LEFT JOIN kiosks k ON k.id = p.kiosk "
            "WHERE p.question IN (%s) ORDER BY p.kiosk" % marks, ids).fetchall():
        pushes.setdefault(q, []).append({"kiosk": kiosk, "rev": rev, "pushed": pushed,
                                         "config_rev": have, "applied_at": applied_at,
                                         "applied": have is not None and have >= rev})
    out = []
    for q in ids:
        s = stats.get(q, {"city": empty_moods(), "districts": {}})
        en, nl, created, by = info.get(q, (None, None, None, None))
        sent = pushes.get(q, [])
        out.append({
            "id": q, "text": {k: v for k, v in (("en", en), ("nl", nl)) if v},
            "created": created, "created_by": by,
            "first_sent": min((p["pushed"] for p in sent), default=None),
            "last_sent": max((p["pushed"] for p in sent), default=None),
            "count": sum(s["city"].values()), "by_value": s["city"],
            "index": mood_index(s["city"]),
            "districts": [{"district": d, "count": sum(bv.values()), "by_value": bv,
                           "index": mood_index(bv)} for d, bv in sorted(s["districts"].items())],
            "last_applied": max((p["applied_at"] for p in sent if p["applied_at"]),
                                default=None),
            "pushed_to": sent, "sent_to": len(sent),
            "applied": sum(p["applied"] for p in sent),
        })
    return {"questions": out, "total": total, "page": page_no,
            "pages": max(1, -(-total // PER_PAGE)), "per_page": PER_PAGE,
            "search": search or None}


def _listing(db, f):
    """results() with the request's search and page (BadParam for a bad one)."""
    search = (request.args.get("search") or "").strip()
    if len(search) > 100:
        raise BadParam("search: at most 100 characters")
    try:
        page_no = int(request.args.get("page") or 1)
    except ValueError:
        raise BadParam("page: a whole number from 1")
    if not 0 < page_no < 10 ** 6:
        raise BadParam("page: a whole number from 1")
    return results(db, f, search, page_no)


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


def _targets(form):
    """(kiosks, districts) a form chose: district checkboxes, kiosk checkboxes, and kiosk ids
    typed into the type-ahead field (comma or space separated), the way without a mouse."""
    typed = re.split(r"[\s,;]+", form.get("kiosk_ids") or "")
    kiosks = list(dict.fromkeys(form.getlist("kiosks") + [k for k in typed if k]))
    return kiosks, form.getlist("districts")


@bp.get("/questions")
@login_required()
def questions():
    return page("questions.html", _listing, title=_("Questions"),
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
            kiosks, districts = _targets(request.form)
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
            pushed = push_question(db, qid, *_targets(request.form))
            audit.record(db, "question-push", question=qid, kiosks=[k for k, _r in pushed])
    except ValueError as e:
        return redirect(url_for("questions.questions", error=str(e)))
    return redirect(url_for("questions.questions", question=qid))


@twins.get("/questions")
def questions_json():
    data = _listing(get_db(), filters())
    rows = [{k: q[k] for k in ("id", "text", "created", "first_sent", "last_sent",
                                "last_applied", "count",
                                "by_value", "index", "sent_to", "applied")}
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
