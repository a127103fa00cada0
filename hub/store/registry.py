"""The kiosk registry as the ingest sees it: status heartbeats, last wills and last_seen.

Only the ingest's status columns of `kiosks` are written here; the web admin (hub/web/admin.py)
and provisioning (hub/fleet/provision.py) own the others, so every write is an upsert of these
columns alone.
Online/offline transitions are appended to kiosk_events (hub/store/schema_ingest.py).
"""

STATUS_FIELDS = ("fw", "boot", "uptime", "queue", "mem_free", "rssi", "config_rev", "filtered",
                 "refused", "damaged", "crash", "synced")


def apply_status(conn, kiosk, status, received, retained=False):
    """status: the dict from protocol.decode_status. A retained copy is old news (the broker
    replays it on every subscribe), so it never moves last_seen past the time it carries."""
    online = 1 if status["online"] else 0
    is_will = set(status) == {"online"} and not online
    seen = None
    if online and not retained:
        seen = received
    elif online and "ts" in status:
        seen = min(status["ts"], received)
    row = conn.execute("SELECT online, status_ts, boot, queue, refused, refused_at, "
                       "queue_stuck_since, flash_reset_at FROM kiosks WHERE id = ?",
                       (kiosk,)).fetchone()
    if row is not None and row[1] is not None and status.get("ts") is not None \
            and status["ts"] < row[1]:
        return False  # an older heartbeat than the one we hold: it changes nothing
    refused_at, stuck = _trends(row, status, received)
    flash_reset = row[7] if row is not None else None
    if row is not None and row[2] is not None and status.get("boot") is not None \
            and status["boot"] < row[2]:
        flash_reset = received  # the boot counter on its flash started again
    values = dict(status)
    if "synced" in values:
        values["synced"] = 1 if values["synced"] else 0
    cols = ["online", "first_seen", "last_seen", "status_ts", "refused_at",
            "queue_stuck_since", "flash_reset_at"] + list(STATUS_FIELDS)
    vals = [online, received, seen, status.get("ts"), refused_at, stuck, flash_reset] + [
        values.get(k) for k in STATUS_FIELDS]
    sets = ["online = excluded.online",
            "first_seen = coalesce(kiosks.first_seen, excluded.first_seen)",
            "last_seen = max(coalesce(kiosks.last_seen, 0), coalesce(excluded.last_seen, 0))",
            "status_ts = coalesce(excluded.status_ts, kiosks.status_ts)",
            "refused_at = excluded.refused_at", "queue_stuck_since = excluded.queue_stuck_since",
            "flash_reset_at = excluded.flash_reset_at"]
    sets += ["%s = coalesce(excluded.%s, kiosks.%s)" % (k, k, k) for k in STATUS_FIELDS]
    if status.get("boot") is not None and online:
        conn.execute("INSERT INTO kiosk_boots (kiosk, boot, ts, crashed) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (kiosk, boot) DO UPDATE SET crashed = max(crashed, "
                     "excluded.crashed)", (kiosk, status["boot"], received,
                                           1 if status.get("crash") else 0))
    conn.execute("INSERT INTO kiosks (id, %s) VALUES (?, %s) ON CONFLICT (id) DO UPDATE SET %s"
                 % (", ".join(cols), ", ".join("?" * len(cols)), ", ".join(sets)),
                 [kiosk] + vals)
    if status.get("config_rev") is not None:   # the questions this config carried: applied
        conn.execute("UPDATE question_pushes SET applied = ? WHERE kiosk = ? AND rev <= ? "
                     "AND applied IS NULL", (int(received), kiosk, status["config_rev"]))
    if row is None or row[0] != online:
        conn.execute("INSERT INTO kiosk_events (kiosk, ts, online, cause) VALUES (?, ?, ?, ?)",
                     (kiosk, received, online, "will" if is_will else "status"))
        return True
    return False


def _trends(row, status, received):
    """(refused_at, queue_stuck_since) after this status: when presses were last refused, and
    since when a non-empty queue has not gone down. A last will changes neither."""
    if row is None:
        row = (None,) * 8
    _, _, boot, queue, refused, refused_at, stuck = row[:7]
    if set(status) == {"online"}:
        return refused_at, stuck
    new_refused = status.get("refused")
    if new_refused:
        same_boot = boot is not None and status.get("boot") == boot
        if not same_boot or refused is None or new_refused > refused:
            refused_at = received
    q = status.get("queue")
    if q is not None:
        if q == 0 or (queue is not None and q < queue):
            stuck = None
        elif stuck is None:
            stuck = received
    return refused_at, stuck


def touch(conn, seen):
    """seen: {kiosk: latest receive time of its taps}. Creates rows for kiosks never registered,
    so a tap from an unprovisioned kiosk still shows up in the kiosks list."""
    conn.executemany(
        "INSERT INTO kiosks (id, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT (id) DO "
        "UPDATE SET first_seen = coalesce(kiosks.first_seen, excluded.first_seen), "
        "last_seen = max(coalesce(kiosks.last_seen, 0), excluded.last_seen)",
        [(k, t, t) for k, t in seen.items()])


def history(conn, kiosk, limit=100):
    return [{"ts": ts, "online": bool(on), "cause": cause} for ts, on, cause in conn.execute(
        "SELECT ts, online, cause FROM kiosk_events WHERE kiosk = ? ORDER BY id DESC LIMIT ?",
        (kiosk, limit))]
