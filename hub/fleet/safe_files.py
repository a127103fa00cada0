"""File writes that the account they are written for cannot redirect (issue 14), for
`civic broker config` run as root into a folder the `mosquitto` account reads.

- write(): a fresh temporary file in the same folder (mkstemp: O_EXCL, so never a planted file
  or link), its mode and owner set through its descriptor, then renamed over the target (a
  rename replaces a link at the target itself, never what it points to).
- own_dir(): makes a folder and sets its owner and mode through an O_NOFOLLOW descriptor.
- check_dir(): refuses a folder path that is a link another account owns.
- adopt_old_persistence(): moves a broker's old DIR/mosquitto.db into DIR/data/ once.
"""
import os
import stat
import tempfile


def write(path, text, mode, owner):
    """Atomic replace: a new file made here (O_EXCL, so never a planted file or link), given
    its mode and owner through its descriptor, then renamed over `path` (rename replaces a
    link at `path` itself, never its target)."""
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if owner:
                os.fchown(f.fileno(), *owner)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def own_dir(path, mode, owner):
    """Make `path` (not following a link there) and give it `owner` (uid, gid) and `mode`."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def check_dir(out_dir):
    """Refuse a DIR that is a link another account planted (we would write where it points)."""
    try:
        st = os.lstat(out_dir)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) and st.st_uid not in (0, os.geteuid()):
        raise ValueError("%s is a symbolic link owned by uid %d: refusing to write through it; "
                         "give its real path" % (out_dir, st.st_uid))


def adopt_old_persistence(out_dir, owner):
    """A broker set up before DIR/data/ existed kept its queued messages in DIR/mosquitto.db:
    move that file (a plain file only) into data/ once, so an upgrade loses no queued tap."""
    old, new = os.path.join(out_dir, "mosquitto.db"), os.path.join(out_dir, "data", "mosquitto.db")
    try:
        st = os.lstat(old)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode) and not os.path.lexists(new):
        os.rename(old, new)
