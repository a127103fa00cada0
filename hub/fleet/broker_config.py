"""A complete Mosquitto setup for the kiosk registry: mosquitto.conf, password file, ACL file.

Written from the hub database by `civic broker config --dir DIR` (docs/API.md). The
files are regenerated whole every time (never edited in place), each written to a temporary file
and renamed, so a broker reloading on SIGHUP never reads half a file.

Why the details:
- Passwords are hashed in Mosquitto's own "$7$" format (PBKDF2-SHA512, 101 iterations, 12-byte
  salt, both base64) in Python, so the hub needs no `mosquitto_passwd` where it runs.
- Mosquitto started as root drops to the `mosquitto` account before it reads the password and
  ACL files. So, run as root, we hand that account only what it must read or write: passwd, acl
  (and the TLS key) are its own, 0600, and DIR/data/ (its persistence) is its own, 0700. DIR
  itself (root:mosquitto 0750) and mosquitto.conf (read by root) stay root's, so the broker
  account can neither edit what root reads nor plant links where root writes (issue 14). If
  that account cannot even reach the folder (a 0700 parent), the conf says `user root` instead,
  with a warning, because `mosquitto -c DIR/mosquitto.conf` must start.
- Every file is written to a fresh temporary file in DIR (O_EXCL: never an existing file or a
  link) and renamed over the old one; a DIR that is a link owned by another account is refused.
- The hub's own listener (port + 1 on loopback) has its own password file and ACL holding the
  hub's account alone (per_listener_settings), so a kiosk's credentials cannot take the hub's
  client id, and with it the hub's persistent session, there.
- The lossless settings come from hub/fleet/deploy/mosquitto.conf (the ingest's tested setup); only the
  lines this command owns (listener, files, anonymous access) are replaced.
"""
import base64
import hashlib
import hmac
import os
import pwd
import re
import signal
import time

import protocol
from hub.fleet import safe_files

PBKDF2_ITERATIONS = 101   # what mosquitto_passwd 2.0 uses for "$7$"
SALT_BYTES = 12
DEPLOY_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deploy", "mosquitto.conf")
DEFAULT_PORT = 1883
# Options of the shipped conf that this command decides itself (or that belong to a listener).
OWNED = ("listener", "port", "bind_address", "bind_interface", "socket_domain", "protocol",
         "persistence_location", "password_file", "acl_file", "pid_file",
         "allow_anonymous", "per_listener_settings", "include_dir", "user", "mount_point",
         "certfile", "keyfile", "cafile", "capath", "require_certificate", "plugin",
         "auth_plugin", "use_username_as_clientid")


def mosquitto_hash(password, salt=None):
    """A password-file hash Mosquitto 2 accepts: $7$<iterations>$<salt b64>$<hash b64>."""
    salt = salt or os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return "$7$%d$%s$%s" % (PBKDF2_ITERATIONS, base64.b64encode(salt).decode(),
                             base64.b64encode(digest).decode())


def check_mosquitto_hash(pw_hash, password):
    """True when password matches a "$7$" hash (what the broker will decide)."""
    try:
        _, kind, iterations, salt, digest = pw_hash.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt),
                                  int(iterations))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except ValueError:
        return False


def acl_text(kiosks, hub_user):
    """Mosquitto ACL: the hub may use all of civic/v1; each kiosk its own topics only: it writes
    protocol.KIOSK_WRITES (taps, status, fetch) and reads protocol.KIOSK_READS (config, receipt,
    update, chunk). Read only for what the hub writes, or a stolen kiosk could make another
    delete its taps (receipt) or take a firmware (update, chunk).

    Mosquitto checks read access again for every message it delivers, so a kiosk that subscribes
    to a wildcard still receives nothing but its own.
    """
    out = ["# Written by `civic broker config`; rerun it instead of editing.",
           "# Anything not granted here is refused (no anonymous user, no pattern rules).",
           "", "user " + hub_user, "topic readwrite %s/#" % protocol.ROOT, ""]
    for kid in kiosks:
        out.append("user " + kid)
        out += ["topic write " + protocol.topic(kid, ch) for ch in protocol.KIOSK_WRITES]
        out += ["topic read " + protocol.topic(kid, ch) for ch in protocol.KIOSK_READS]
        out.append("")
    return "\n".join(out)


def password_text(accounts):
    return "".join("%s:%s\n" % (user, pw_hash) for user, pw_hash in accounts)


def deploy_lines(path=DEPLOY_CONF):
    """The shipped lossless settings, minus the lines this command owns; [] if not shipped."""
    if not os.path.exists(path):
        return []
    lines = []
    for line in open(path, encoding="utf-8"):
        word = line.strip().split(" ", 1)[0]
        if word in OWNED or (word == "log_dest" and line.split()[1:2] == ["file"]):
            continue
        lines.append(line.rstrip("\n"))
    return lines


def conf_text(out_dir, port, kiosk_count, hub_port, hub_bind, tls=False, as_root=False):
    d = os.path.abspath(out_dir)
    shipped = deploy_lines()
    head = ["# Mosquitto for civic kiosks, written by `civic broker config` on %s"
            % time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "# for %d kiosk(s). Rerun the command (with --reload) instead of editing."
            % kiosk_count,
            "# Start: mosquitto -c %s/mosquitto.conf" % d,
            "",
            "# Each listener its own accounts (set before any other option): the hub's door",
            "# below knows the hub's account alone.",
            "per_listener_settings true",
            "# Kiosks reach the broker over the network: listen on every interface. Here a",
            "# client's id is forced to its username, so no kiosk can take over another's (or",
            "# the hub's) session by connecting with its client id.",
            "listener %d" % port,
            "use_username_as_clientid true",
            "allow_anonymous false",
            "password_file %s/passwd" % d,
            "acl_file %s/acl" % d,
            ] + ([
            "# TLS (mqtts://): kiosks check this certificate against the CA in their ca.pem.",
            "certfile %s/server.crt" % d,
            "keyfile %s/server.key" % d,
            ] if tls else []) + [
            "# The hub's own door: client ids kept, so several ingest workers (shared",
            "# subscriptions, each its own stable id) can connect. Only the hub's account.",
            "listener %d %s" % (hub_port, hub_bind),
            "allow_anonymous false",
            "password_file %s/passwd-hub" % d,
            "acl_file %s/acl-hub" % d,
            "# Lets `civic broker config --reload` and `civic kiosk revoke` send SIGHUP.",
            "pid_file %s/data/mosquitto.pid" % d,
            ] + ([
            "# The `mosquitto` account cannot reach this folder, so Mosquitto keeps running as",
            "# root instead of dropping to it (and failing to read these files). Better: a",
            "# folder it can reach, e.g. /etc/mosquitto/civic.",
            "user root",
            ] if as_root else []) + [
            "# Queued QoS 1 taps must survive a broker restart.",
            "persistence true",
            "persistence_location %s/data/" % d,
            ""]
    if shipped:
        head += ["# --- lossless settings from hub/fleet/deploy/mosquitto.conf ---"] + shipped
    else:
        head += ["# hub/fleet/deploy/mosquitto.conf not found: no queue limit, so no QoS 1 tap is "
                 "dropped",
                 "max_queued_messages 0", "max_inflight_messages 0", "autosave_interval 60"]
    return "\n".join(head) + "\n"


def existing_ports(out_dir):
    """(port, hub_port, hub_bind, tls) of a conf this command wrote before, so a rewrite keeps
    them."""
    try:
        text = open(os.path.join(out_dir, "mosquitto.conf")).read()
    except OSError:
        return None
    found = re.findall(r"^listener (\d+)(?: (\S+))?$", text, re.M)
    if len(found) != 2:
        return None
    return int(found[0][0]), int(found[1][0]), found[1][1], "\ncertfile " in text


def _broker_account():
    """uid/gid Mosquitto will run as when started as root (it drops to `mosquitto`)."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("mosquitto")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return None  # no such account: Mosquitto stays root, nothing to hand over


def unreachable_parent(out_dir, owner):
    """The first parent folder the broker account cannot enter (e.g. a 0700 home), or None."""
    if not owner:
        return None
    p = os.path.dirname(os.path.abspath(out_dir))
    while True:
        st = os.stat(p)
        if not (st.st_mode & 0o001 or (st.st_uid == owner[0] and st.st_mode & 0o100)
                or (st.st_gid == owner[1] and st.st_mode & 0o010)):
            return p
        if p == os.path.dirname(p):
            return None
        p = os.path.dirname(p)


def write_files(out_dir, port, accounts, kiosks, hub_user, hub_port, hub_bind, tls=None):
    """Write the three files (and the TLS certificate and key, when given as (certfile,
    keyfile) paths); return a list of warnings for the operator."""
    safe_files.check_dir(out_dir)
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    out_dir = os.path.realpath(out_dir)
    owner = _broker_account()
    warnings = []
    blocked = unreachable_parent(out_dir, owner)
    if blocked:
        # Mosquitto started as root would drop to `mosquitto` and then fail to read its files:
        # `mosquitto -c DIR/mosquitto.conf` must start, so it stays root here, with a warning.
        warnings.append("the mosquitto account cannot enter %s, so this broker runs as root; "
                        "for production choose a folder it can reach, such as "
                        "/etc/mosquitto/civic" % blocked)
        owner = None
    # DIR stays ours (root's): the broker account may read in it, never write there.
    safe_files.own_dir(out_dir, 0o750 if owner else 0o700, owner and (os.geteuid(), owner[1]))
    safe_files.own_dir(os.path.join(out_dir, "data"), 0o700, owner)
    safe_files.adopt_old_persistence(out_dir, owner)
    if tls and tls is not True:
        for src, name, mode in ((tls[0], "server.crt", 0o644), (tls[1], "server.key", 0o600)):
            text = open(src, encoding="ascii").read()
            safe_files.write(os.path.join(out_dir, name), text, mode, owner)
    safe_files.write(os.path.join(out_dir, "passwd"), password_text(accounts), 0o600, owner)
    safe_files.write(os.path.join(out_dir, "acl"), acl_text(kiosks, hub_user), 0o600, owner)
    hub_account = [a for a in accounts if a[0] == hub_user]
    safe_files.write(os.path.join(out_dir, "passwd-hub"), password_text(hub_account), 0o600,
                     owner)
    safe_files.write(os.path.join(out_dir, "acl-hub"), acl_text([], hub_user), 0o600, owner)
    conf = conf_text(out_dir, port, len(kiosks), hub_port, hub_bind, bool(tls), bool(blocked))
    safe_files.write(os.path.join(out_dir, "mosquitto.conf"), conf, 0o644, None)  # root's
    return warnings


def reload_broker(out_dir):
    """SIGHUP the Mosquitto whose pid file is in out_dir: it rereads passwords and ACLs.

    Returns the pid signalled, or None when no broker from this folder is running. The pid is
    checked to be a mosquitto process first, so a stale pid file never signals a stranger.
    """
    try:
        path = os.path.join(out_dir, "data", "mosquitto.pid")
        if not os.path.exists(path):
            path = os.path.join(out_dir, "mosquitto.pid")  # a broker set up before data/
        pid = int(open(path).read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().split(b"\0")
    except (OSError, ValueError):
        return None
    if not cmd or not os.path.basename(cmd[0]).startswith(b"mosquitto"):
        return None
    os.kill(pid, signal.SIGHUP)
    return pid
