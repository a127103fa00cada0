"""Rollouts: a release offered to kiosks, and where each kiosk's update stands.

An offer is one fw_offers row per kiosk (hub/store/schema_firmware.py) with the kiosk's next
offer number n (strictly increasing per kiosk: a kiosk refuses an n it has seen, so a replayed
old offer cannot downgrade it; rolling back is a new offer of the older version). The row with
a kiosk's highest n is its current offer; recording one supersedes the kiosk's earlier offers.
Recording only writes rows with pub_due = 1: the ingest (hub/ingest/fw_offers.py) signs each
with the kiosk's update key and publishes it retained, and withdraws it once the update ended,
so this works from the CLI and the web, which are other processes than the ingest.

The states after `offered` are what the kiosk reports in its status "update" field
(protocol/updates.py check_progress), applied by the ingest's Writer (apply_progress):
downloading, verified, switched, then confirmed, or rolled_back (the new version failed its
trial: the crash line is kept) or failed (with the reason: a bad checksum, a MAC that is not
authentic, a MicroPython the release cannot run).
"""
import time

from protocol import updates as pu
from hub.updates import releases, update_keys

ENDED = ("confirmed", "rolled_back", "failed", "superseded")
# A kiosk whose status does not yet show its current offer gets it published again after
# this long (a broker that lost its retained messages heals by itself, as configs do).
REPUBLISH_AFTER_S = 120


class RolloutError(ValueError):
    """A rollout that cannot be recorded; the message says why and what to do."""


def targets(conn, kiosks=(), district=None, everyone=False):
    """The registered kiosks a rollout names: ids, a district's, or all. -> sorted ids."""
    if sum([bool(kiosks), district is not None, bool(everyone)]) != 1:
        raise RolloutError("name the kiosks: --kiosk ID (one or more), --district NAME or --all")
    if kiosks:
        known = {r[0] for r in conn.execute("SELECT id FROM kiosks WHERE id IN (%s)" % ",".join(
            "?" * len(kiosks)), list(kiosks))}
        missing = sorted(set(kiosks) - known)
        if missing:
            raise RolloutError("no such kiosk: %s (see `civic kiosk provision`)"
                               % ", ".join(missing))
        return sorted(set(kiosks))
    if district is not None:
        ids = [r[0] for r in conn.execute("SELECT id FROM kiosks WHERE district = ? ORDER BY id",
                                          (district,))]
        if not ids:
            raise RolloutError("no kiosks in district %r" % district)
        return ids
    ids = [r[0] for r in conn.execute("SELECT id FROM kiosks k WHERE EXISTS (SELECT 1 FROM "
                                      "kiosk_update_keys u WHERE u.kiosk = k.id) ORDER BY id")]
    if not ids:
        raise RolloutError("no kiosk has an update key yet: provision kiosks first")
    return ids


def offer(conn, version, kiosk_ids, user=None, now=None):
    """Record an offer of `version` to each kiosk (inside the caller's transaction).
    -> [(kiosk, n)]."""
    now = int(now or time.time())
    if not releases.exists(conn, version):
        raise RolloutError("no release %s: make it first with `civic firmware release "
                           "--version %s`" % (version, version))
    keyless = [k for k in kiosk_ids if update_keys.key_of(conn, k) is None]
    if keyless:
        raise RolloutError("no update key for %s: run `civic kiosk update-key ID` and flash the "
                           "kiosk with it (`civic kiosk flash --credentials`)"
                           % ", ".join(keyless[:10]))
    out = []
    for k in kiosk_ids:
        last = conn.execute("SELECT max(n) FROM fw_offers WHERE kiosk = ?", (k,)).fetchone()[0]
        seen = conn.execute("SELECT seen_n FROM kiosk_update_keys WHERE kiosk = ?",
                            (k,)).fetchone()[0]
        n = max(last or 0, seen or 0) + 1
        conn.execute("UPDATE fw_offers SET state = 'superseded', updated_at = ? "
                     "WHERE kiosk = ? AND state NOT IN ('confirmed', 'rolled_back', 'failed', "
                     "'superseded')", (now, k))
        # The new offer's retained publish replaces whatever the older ones left on the topic.
        conn.execute("UPDATE fw_offers SET pub_due = 0 WHERE kiosk = ?", (k,))
        conn.execute("INSERT INTO fw_offers (kiosk, n, version, state, offered_at, offered_by, "
                     "updated_at) VALUES (?, ?, ?, 'offered', ?, ?, ?)",
                     (k, n, version, now, user, now))
        out.append((k, n))
    return out


def rollout(db, version, kiosks=(), district=None, everyone=False, user=None):
    """`civic firmware rollout`: targets and offers in one transaction. -> summary dict."""
    with db.conn:
        ids = targets(db.conn, kiosks, district, everyone)
        offered = offer(db.conn, version, ids, user)
    return {"version": version, "offered": [{"kiosk": k, "n": n} for k, n in offered]}


def confirmed_count(conn, version):
    """Kiosks that confirmed `version` (the page allows a wide rollout only after one)."""
    return conn.execute("SELECT count(DISTINCT kiosk) FROM fw_offers WHERE version = ? AND "
                        "state = 'confirmed'", (version,)).fetchone()[0]


def current(conn, kiosk):
    """(n, version, state, published) of kiosk's current offer, or None."""
    return conn.execute("SELECT n, version, state, published FROM fw_offers WHERE kiosk = ? "
                        "ORDER BY n DESC LIMIT 1", (kiosk,)).fetchone()


def _crash_line(crash):
    if not crash:
        return None
    lines = [line.strip() for line in crash.replace(" | ", "\n").splitlines() if line.strip()]
    return lines[-1][-pu.REASON_MAX:] if lines else None


def apply_progress(conn, kiosk, status, received):
    """The Writer, for each status, inside its transaction: move the kiosk's current offer to
    the state its status reports ("update" field, checked at the edge by
    hub/ingest/validate.py), withdraw it once ended, or have it published again when the
    kiosk has still not seen it. -> True when the offer row changed."""
    if not status.get("online"):
        return False
    row = current(conn, kiosk)
    up = status.get("update")
    if up is not None and (row is None or up["n"] > row[0]):
        # The kiosk has taken an offer number this database never made (restored from an
        # older backup): the next offer must go above it, or the kiosk refuses it as a replay.
        conn.execute("UPDATE kiosk_update_keys SET seen_n = max(coalesce(seen_n, 0), ?) "
                     "WHERE kiosk = ?", (up["n"], kiosk))
    if row is None:
        return False
    n, version, state, published = row
    now = int(received)
    if up is not None and up["n"] == n and up["v"] == version:
        if state in ENDED:
            return False    # an ended update stays as it ended (the kiosk repeats it)
        crash = None
        if up["state"] == "rolled_back":
            crash = _crash_line(status.get("crash")) or up.get("reason")
        ended = up["state"] in ENDED
        conn.execute("UPDATE fw_offers SET state = ?, reason = ?, done = ?, total = ?, "
                     "crash = coalesce(?, crash), updated_at = ?, pub_due = max(pub_due, ?), "
                     "pub_gen = pub_gen + ? WHERE kiosk = ? AND n = ?",
                     (up["state"], up.get("reason"), up.get("done"), up.get("total"), crash,
                      now, int(ended), int(ended), kiosk, n))
        return True
    if state in ENDED:
        return False
    if up is None and state not in ("offered",) and status.get("fw") == version:
        # Running the offered version with nothing more to report: its trial passed.
        conn.execute("UPDATE fw_offers SET state = 'confirmed', updated_at = ?, pub_due = 1, "
                     "pub_gen = pub_gen + 1 WHERE kiosk = ? AND n = ?", (now, kiosk, n))
        return True
    if (up is None or up["n"] < n) and published is not None \
            and now - published > REPUBLISH_AFTER_S:
        conn.execute("UPDATE fw_offers SET pub_due = 1, pub_gen = pub_gen + 1, published = NULL "
                     "WHERE kiosk = ? AND n = ?", (kiosk, n))
        return True
    return False


def republish_all(conn):
    """The broker had no session for the hub: it may have lost the retained offers too.
    -> how many offers go out again."""
    return conn.execute("UPDATE fw_offers SET pub_due = 1, pub_gen = pub_gen + 1 WHERE "
                        "state NOT IN ('confirmed', 'rolled_back', 'failed', 'superseded') "
                        "AND pub_due = 0").rowcount


def report(conn, district=None):
    """What `civic firmware status`, GET /api/v1/firmware and the Firmware page show: the
    releases (with how many kiosks confirmed each), and per kiosk its running version and its
    current offer's state."""
    rels = releases.list_releases(conn)
    counts = {}
    for v, st, c in conn.execute("SELECT version, state, count(*) FROM fw_offers "
                                 "GROUP BY version, state"):
        counts.setdefault(v, {})[st] = c
    for r in rels:
        r["states"] = counts.get(r["version"], {})
        r["confirmed"] = r["states"].get("confirmed", 0)
    sql = ("SELECT k.id, k.district, k.online, k.fw, k.last_seen, "
           "EXISTS (SELECT 1 FROM kiosk_update_keys u WHERE u.kiosk = k.id), "
           "o.n, o.version, o.state, o.reason, o.done, o.total, o.crash, o.offered_at, "
           "o.updated_at FROM kiosks k LEFT JOIN fw_offers o ON o.kiosk = k.id AND o.n = "
           "(SELECT max(n) FROM fw_offers WHERE kiosk = k.id)")
    args = []
    if district:
        sql += " WHERE k.district = ?"
        args.append(district)
    kiosks = []
    for (kid, dist, online, fw, seen, has_key, n, v, st, reason, done, total, crash, at,
         upd) in conn.execute(sql + " ORDER BY k.id", args):
        kiosks.append({"id": kid, "district": dist, "online": bool(online), "fw": fw,
                       "last_seen": None if seen is None else int(seen),
                       "update_key": bool(has_key),
                       "update": None if n is None else {
                           "version": v, "n": n, "state": st, "reason": reason, "done": done,
                           "total": total, "crash": crash, "offered_at": at,
                           "updated_at": upd}})
    return {"releases": rels, "kiosks": kiosks}
