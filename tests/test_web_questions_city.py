"""Questions for a city: newest first with their dates, search, pages, the question's text in
the filters, and a picker that takes kiosks typed by id (the keyboard's way)."""
from hub.store.connection import open_db
from hub.web.questions import create_question, push_question
from tests.support.webdata import add_kiosk
from tests.test_web_words import admin  # noqa: F401 - the logged-in admin fixture


def make(db_path, n):
    for i in range(1, 6):
        add_kiosk(db_path, "k-%d" % i, "north" if i < 4 else "south")
    db = open_db(db_path)
    with db.conn:
        for i in range(n):
            create_question(db, "q-%03d" % i, "Question number %d about the park" % i
                            if i % 2 else "Question number %d about the library" % i, None, "ann")
            db.execute("UPDATE questions SET created = ? WHERE id = ?",
                       [1790000000 + i, "q-%03d" % i])
        if n > 7:
            push_question(db, "q-007", ["k-1"], ["south"])


def test_newest_first_paged_and_searched_with_their_dates(admin, db_path):  # noqa: F811
    make(db_path, 45)
    first = admin.get("/api/v1/questions").json
    assert first["total"] == 45 and first["pages"] == 3 and len(first["questions"]) == 20
    assert [q["id"] for q in first["questions"][:2]] == ["q-044", "q-043"]
    third = admin.get("/api/v1/questions?page=3").json["questions"]
    assert [q["id"] for q in third] == ["q-%03d" % i for i in range(4, -1, -1)]
    found = admin.get("/api/v1/questions?search=LIBRARY").json
    assert found["total"] == 23 and all("library" in q["text"]["en"] for q in found["questions"])
    q7 = admin.get("/api/v1/questions?question=q-007").json["questions"][0]
    assert q7["created"] == 1790000007 and q7["sent_to"] == 3 and q7["first_sent"]
    assert sorted(p["kiosk"] for p in q7["pushed_to"]) == ["k-1", "k-4", "k-5"]
    assert admin.get("/api/v1/questions?page=x").status_code == 400
    assert admin.get("/questions?page=0").status_code == 400


def test_the_filters_show_question_texts_not_ids(admin, db_path):  # noqa: F811
    make(db_path, 3)
    page = admin.get("/overview").get_data(as_text=True)
    assert '<option value="q-002" >Question number 2 about the library</option>' in page


def test_kiosks_typed_by_id_and_districts_ticked_are_sent_the_question(admin, db_path):  # noqa: F811
    make(db_path, 1)
    r = admin.post("/questions/q-000/push", data={"kiosk_ids": "k-2, k-3 k-2",
                                                  "districts": ["south"]})
    assert r.status_code == 302
    sent = open_db(db_path).execute("SELECT kiosk FROM question_pushes WHERE question = 'q-000' "
                                    "ORDER BY kiosk").fetchall()
    assert [k for (k,) in sent] == ["k-2", "k-3", "k-4", "k-5"]
    r = admin.post("/questions/q-000/push", data={"kiosk_ids": "nope-9"})
    assert "error=" in r.headers["Location"]


def test_a_question_shows_when_its_kiosks_applied_it(admin, db_path):  # noqa: F811
    from hub.store import registry
    from hub.store.connection import transaction
    make(db_path, 8)                      # q-007 goes to k-1, k-4, k-5
    db = open_db(db_path)
    rev = db.execute("SELECT rev FROM question_pushes WHERE question = 'q-007' AND "
                     "kiosk = 'k-1'").fetchone()[0]
    with transaction(db.conn):            # what the ingest does with k-1's next status
        registry.apply_status(db.conn, "k-1", {"online": True, "config_rev": rev,
                                               "ts": 1796000000}, 1796000005)
    q7 = admin.get("/api/v1/questions?question=q-007").json["questions"][0]
    assert q7["applied"] == 1 and q7["last_applied"] == 1796000005
    assert {p["kiosk"]: p["applied_at"] for p in q7["pushed_to"]} == \
        {"k-1": 1796000005, "k-4": None, "k-5": None}
