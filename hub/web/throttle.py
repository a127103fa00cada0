"""Login throttling, per account and per client address (issue 14).

Each failed login adds one to two counters, 'user:<name>' and 'addr:<client address>'. The
first FREE failures of a counter cost nothing; after that the counter is locked for a window
that doubles with every further failure: 2, 4, 8 ... seconds, up to a cap. While a counter is
locked, a login is answered 429 with Retry-After and the password is not even checked (so a
guess made then tells nothing). A success clears the account's counter and the address's.

- The address's window grows to ADDR_CAP_S (15 minutes): a guessing client stays slow.
- The account's window stops at USER_CAP_S (one minute), so a stranger who knows an admin's
  name can hold that account for a minute at most after each burst of guesses; and a browser
  that has logged in as that account before (it carries a signed "device" cookie naming the
  account) is not held by the account counter at all, only by its own address's counter.
Counters older than FORGET_S since their last failure start again from zero.
The client address is the TCP peer (request.remote_addr): behind a reverse proxy, have the
proxy do its own rate limiting or run the hub with werkzeug's ProxyFix.
"""
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

FREE = 5
USER_CAP_S = 60
ADDR_CAP_S = 900
FORGET_S = 24 * 3600
DEVICE_COOKIE = "civic_device"
DEVICE_MAX_AGE = 180 * 24 * 3600


def now():
    return time.time()


def _window(failures, cap):
    if failures < FREE:
        return 0
    return min(2 ** (failures - FREE + 1), cap)


def _wait(db, key, cap):
    row = db.execute("SELECT failures, last FROM login_failures WHERE key = ?", [key]).fetchone()
    if not row or now() - row[1] > FORGET_S:
        return 0
    return max(0, row[1] + _window(row[0], cap) - now())


def retry_after(db, name, addr, known_device):
    """Seconds this login must wait (0: go ahead and check the password)."""
    waits = [_wait(db, "addr:" + (addr or "?"), ADDR_CAP_S)]
    if not known_device:
        waits.append(_wait(db, "user:" + name, USER_CAP_S))
    return max(waits)


def failed(db, name, addr):
    """Count a failed login (the caller commits); name None counts the address alone."""
    t = now()
    keys = ["addr:" + (addr or "?")] + (["user:" + name] if name is not None else [])
    for key in keys:
        db.execute("INSERT INTO login_failures (key, failures, last) VALUES (?, 1, ?) "
                   "ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN ? - last > ? THEN 1 "
                   "ELSE failures + 1 END, last = excluded.last", [key, t, t, FORGET_S])


def succeeded(db, name, addr):
    db.execute("DELETE FROM login_failures WHERE key IN (?, ?)",
               ["user:" + name, "addr:" + (addr or "?")])


def _serializer(app):
    return URLSafeTimedSerializer(app.secret_key, salt="civic-device")


def device_cookie(app, name):
    return _serializer(app).dumps(name)


def known_device(app, cookie, name):
    if not cookie:
        return False
    try:
        return _serializer(app).loads(cookie, max_age=DEVICE_MAX_AGE) == name
    except BadSignature:
        return False
