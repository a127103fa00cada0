"""Per-kiosk missing seq ranges (table seq_gaps), kept by hub/ingest/writer.py in the tap transaction.

A kiosk numbers its taps 1, 2, 3, ... and never reuses a number, so a seq that jumps past the
highest one stored opens a gap (sent, not yet arrived), and a late tap that lands inside a gap
shrinks or splits it. A kiosk's first tap with seq > 1 opens the gap [1, seq-1]: the hub has
never heard of the earlier ones. Redelivery order does not matter: the gap table always equals
"the numbers between 1 and the highest stored seq that are not stored".
"""


def _add(conn, kiosk, first, last):
    conn.execute("INSERT INTO seq_gaps (kiosk, first, last) VALUES (?, ?, ?)", (kiosk, first, last))


def _fill(conn, kiosk, seq):
    row = conn.execute("SELECT first, last FROM seq_gaps WHERE kiosk = ? AND first <= ? "
                       "ORDER BY first DESC LIMIT 1", (kiosk, seq)).fetchone()
    if row is None or row[1] < seq:
        return  # seq 0, or a kiosk that did start below 1: nothing was missing there
    first, last = row
    conn.execute("DELETE FROM seq_gaps WHERE kiosk = ? AND first = ?", (kiosk, first))
    if first <= seq - 1:
        _add(conn, kiosk, first, seq - 1)
    if seq + 1 <= last:
        _add(conn, kiosk, seq + 1, last)


def update(conn, kiosk, prev_max, new_seqs):
    """new_seqs: the seqs just inserted for kiosk, ascending; prev_max: its highest seq before."""
    hi = prev_max
    for s in new_seqs:
        if hi is None:
            if s > 1:
                _add(conn, kiosk, 1, s - 1)
            hi = s
        elif s > hi:
            if s > hi + 1:
                _add(conn, kiosk, hi + 1, s - 1)
            hi = s
        else:
            _fill(conn, kiosk, s)


def missing(conn, kiosk):
    """[[first, last], ...] for the kiosks API."""
    return [[a, b] for a, b in conn.execute(
        "SELECT first, last FROM seq_gaps WHERE kiosk = ? ORDER BY first", (kiosk,))]
