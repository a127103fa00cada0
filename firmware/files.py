"""Small, power-cut-safe file helpers for the kiosk's flash (littlefs on the board and in the sim).

littlefs commits a file atomically when it is closed, and rename() replaces atomically, so
write-to-temp-then-rename never leaves a half-written settings or counter file behind.
"""
import json
import os


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def makedirs(path):
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if cur in ("", "/") else cur + "/" + part
        if not exists(cur):
            os.mkdir(cur)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def read_bytes(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return default


def read_json(path, default=None):
    b = read_bytes(path)
    if b is None:
        return default
    try:
        return json.loads(b)
    except ValueError:
        return default  # a file damaged outside littlefs' guarantees: fall back, never crash


def write_json(path, obj):
    write_atomic(path, json.dumps(obj).encode())


def read_int(path, default=0):
    b = read_bytes(path)
    try:
        return int(b) if b else default
    except ValueError:
        return default


def write_int(path, n):
    write_atomic(path, str(n).encode())


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
