"""What a kiosk may name in a tap, bounded by what the hub knows (issue 14), for the Writer.

- A skill tap's category must be one the hub has ever configured: the default set
  (protocol.DEFAULT_SKILLS) and every category any kiosk config has carried (config_skills,
  kept by triggers on kiosk_configs). Anything else cannot be stored: a reject with a reason.
- A mood tap's question must be one the hub knows (created by staff, or carried by a config:
  config_questions). Any other id still counts the tap, as a mood tap with no question
  (q NULL): the press is real, the question it names is not.

The sets are cached in the Writer's process and read again from the database only when a tap
names something not in them, at most once per batch, so a kiosk sending garbage costs one
small query per batch, and well-formed traffic none.
"""
import protocol

SKILL_REASON = "taps[%d].value: skill category %r was never configured by the hub"


class Known:
    def __init__(self):
        self.skills = set(protocol.DEFAULT_SKILLS)
        self.questions = set()
        self._fresh = False   # read in this batch already

    def new_batch(self):
        self._fresh = False

    def _refresh(self, conn):
        if self._fresh:
            return
        self._fresh = True
        self.skills = set(protocol.DEFAULT_SKILLS) | {
            r[0] for r in conn.execute("SELECT skill FROM config_skills")}
        self.questions = {r[0] for r in conn.execute(
            "SELECT id FROM questions UNION SELECT question FROM config_questions")}

    def _known(self, conn, value, which):
        if value in which():
            return True
        self._refresh(conn)
        return value in which()

    def check(self, conn, rows):
        """rows as protocol.decode_tap_rows gives them -> (rows to store, reason or None).
        Unknown categories are left out (the reason names the first); unknown questions
        become None."""
        skills, questions = self.skills, self.questions
        for row in rows:  # the usual case: everything known, nothing to copy
            if (row[2] == "skill" and row[3] not in skills) or \
                    (row[4] is not None and row[4] not in questions):
                break
        else:
            return rows, None
        out, reason = [], None
        for i, row in enumerate(rows):
            seq, ts, kind, value, q = row
            if kind == "skill" and value not in self.skills \
                    and not self._known(conn, value, lambda: self.skills):
                reason = reason or SKILL_REASON % (i, value)
                continue
            if q is not None and q not in self.questions \
                    and not self._known(conn, q, lambda: self.questions):
                row = (seq, ts, kind, value, None)
            out.append(row)
        return out, reason
