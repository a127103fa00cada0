"""The crash-safe tap queue on flash: every acked tap lives here until a receipt from the hub
covers it (the hub has committed it); a broker's PUBACK alone deletes nothing.

Layout under DIR (default data), see README.md "Queue format":
- records of 16 bytes: seq u32, t u32, boot u16, flags u8 (button | REL), version u8,
  name u16 (index in the names file, NO_NAME for null), crc16 (low half of crc32 of the 14 first).
- hot files `h<seq>`: up to HOT_MAX records, appended and closed per tap. They stay inline in
  littlefs' metadata log, so a tap costs a small commit, not a block copy (~0.13 erases/tap).
- cold files `c/<seq>`: up to COLD_MAX records (one 4 KiB block), filled by appending every
  MERGE_AT full hot files while a backlog builds up; those hot files are then deleted. Crash in between: the hot
  files whose range a cold file covers are deleted at the next load, and reading skips
  repeated seqs anyway. Only two folders (DIR and DIR/c): a littlefs folder costs 4 blocks.
- `seq`: the next seq, written before the file holding the newest seq is deleted, so a seq is
  never reused even when the queue is empty; `names`: one string per line (question ids, skills).
"""
import os
import struct
from binascii import crc32

from files import makedirs, read_bytes, read_int, remove, write_int

REC = 16
HOT_MAX = 8         # 128 bytes inline: a compaction of the folder copies little (README.md)
COLD_MAX = 256      # 4096 bytes: exactly one flash block
MERGE_AT = 4        # full hot files waiting before they are appended to a cold file
FLAG_REL = 0x80     # t counts seconds since its boot started: the clock was unknown at the press
NO_NAME = 0xFFFF
VERSION = 1         # of the record format: what this firmware writes; it reads every version
RESERVE_BLOCKS = 6  # free blocks kept for littlefs' own copy-on-write and the config files


class QueueFull(Exception):
    pass


def pack(seq, t, boot, flags, name):
    b = struct.pack("<IIHBBH", seq, t, boot & 0xFFFF, flags, VERSION, name)
    return b + struct.pack("<H", crc32(b) & 0xFFFF)


def unpack(buf, off):
    """-> (seq, t, boot, flags, name) or None when the record is torn or damaged."""
    if crc32(buf[off:off + 14]) & 0xFFFF != struct.unpack_from("<H", buf, off + 14)[0]:
        return None
    seq, t, boot, flags, ver, name = struct.unpack_from("<IIHBBH", buf, off)
    if ver == 0 or seq == 0:
        # Any version from 1 on is read: a firmware update leaves the queue to the next
        # version, or back to the one before (README.md "Queue format": a newer version only
        # gives meaning to what an older one ignores, and never changes the 16 bytes' layout).
        return None
    return (seq, t, boot, flags, name)


class TapQueue:
    def __init__(self, root="data", max_taps=20000, statvfs=None, buf=None):
        self.root = root
        self.max_taps = max_taps
        self.statvfs = statvfs or os.statvfs
        # the one read/merge buffer (no per-batch garbage); the kiosk passes one it took early
        self.buf = buf if buf is not None else bytearray(COLD_MAX * REC)
        self.segs = []       # [first, last, count, name] oldest first; count = valid records
        self.hot = None      # the seg this boot appends to, None when it is full
        self.done = 0        # settled: every seq <= done is receipted (deleted) or was never stored
        self.count = 0       # taps on flash not yet settled
        self.bad = 0         # damaged records skipped at load (counted, reported in status)
        self.refused = 0     # presses refused because the queue was full (never acked)
        self.names = []
        self.next_seq = 1
        self._adds = 0
        self._free_ok = True

    # ---- loading after a boot or a power cut -------------------------------------------
    def load(self):
        makedirs(self.root)
        remove(self.root + "/m.tmp")  # a merge cut short: its hot files are all still there
        self.names = []
        data = read_bytes(self.root + "/names", b"")
        if data and not data.endswith(b"\n"):  # a torn append: drop the partial line
            data = data[:data.rfind(b"\n") + 1]
            self._write_names(data)
        for line in data.split(b"\n")[:-1] if data else []:
            self.names.append(line.decode())
        files = []
        makedirs(self.root + "/c")
        for ent in os.ilistdir(self.root):
            if ent[0][0] == "h" and ent[0][1:].isdigit():
                files.append((int(ent[0][1:]), ent[0]))
        for ent in os.ilistdir(self.root + "/c"):
            if ent[0].isdigit():
                files.append((int(ent[0]), "c/" + ent[0]))
        files.sort()
        segs = []
        last_seq = 0
        for first, n in files:
            rng = self._scan(n)
            if rng is None:
                remove(self.root + "/" + n)
                continue
            segs.append([rng[0], rng[1], rng[2], n])
        # A hot file inside a cold file's range is a leftover of a merge cut short.
        cold = [s for s in segs if s[3][0] == "c"]
        keep = []
        for s in segs:
            if s[3][0] == "h" and any(c[0] <= s[1] <= c[1] for c in cold):
                remove(self.root + "/" + s[3])
            else:
                keep.append(s)
        self.segs = keep
        self.count = 0
        for s in keep:
            self.count += s[2]
            last_seq = max(last_seq, s[1])
        self.next_seq = max(read_int(self.root + "/seq", 1), last_seq + 1)
        # Below the oldest record on flash every seq is settled: deleted after a receipt, or
        # never stored (torn). The kiosk tells the hub so (the "settled" of its taps messages).
        self.done = keep[0][0] - 1 if keep else self.next_seq - 1
        self.hot = None
        return self

    def _scan(self, name):
        """-> (first, last, valid) of a file's records, or None when none is valid."""
        n = self._read(name)
        first = last = valid = 0
        for off in range(0, n - REC + 1, REC):
            r = unpack(self.buf, off)
            if r is None:
                self.bad += 1
                continue
            if r[0] <= last:
                continue
            first = first or r[0]
            last = r[0]
            valid += 1
        return (first, last, valid) if valid else None

    def _read(self, name):
        with open(self.root + "/" + name, "rb") as f:
            return f.readinto(self.buf) or 0

    # ---- the press path -----------------------------------------------------------------
    def name_index(self, s):
        if s is None:
            return NO_NAME
        try:
            return self.names.index(s)
        except ValueError:
            pass
        # Durable before any record points at it.
        with open(self.root + "/names", "ab") as f:
            f.write(s.encode() + b"\n")
        self.names.append(s)
        return len(self.names) - 1

    def _write_names(self, data):
        with open(self.root + "/names", "wb") as f:
            f.write(data)

    def has_room(self):
        if self.count >= self.max_taps:
            return False
        self._adds += 1
        if self._adds % 32 == 1:  # statvfs walks littlefs: not on every press
            st = self.statvfs(self.root)
            self._free_ok = st[3] > RESERVE_BLOCKS
        return self._free_ok

    def add(self, t, boot, flags, name):
        """Store one tap durably and return its seq (the caller acks only then)."""
        if not self.has_room():
            self.refused += 1
            raise QueueFull()
        seq = self.next_seq
        rec = pack(seq, t, boot, flags, name)
        if self.hot is None:
            self.hot = [seq, seq, 0, "h%09d" % seq]
            self.segs.append(self.hot)
        # Open, append, close: close is littlefs' sync, and a closed inline file costs the
        # least wear (measured: 0.13 erases/tap against 0.22 for a file kept open).
        with open(self.root + "/" + self.hot[3], "ab") as f:
            f.write(rec)
        self.next_seq = seq + 1
        self.hot[1] = seq
        self.hot[2] += 1
        self.count += 1
        if self.hot[2] >= HOT_MAX:
            self.hot = None
        return seq

    # ---- the sending side ---------------------------------------------------------------
    def peek(self, n, after=0):
        """The next n unsettled taps above `after`, oldest first, as (seq, t, boot, flags, name)
        tuples."""
        out = []
        after = max(after, self.done)
        for s in self.segs:
            if s[1] <= after:
                continue
            size = self._read(s[3])
            for off in range(0, size - REC + 1, REC):
                r = unpack(self.buf, off)
                if r is None or r[0] <= after:
                    continue
                out.append(r)
                after = r[0]
                if len(out) >= n:
                    return out
        return out

    def settle(self, covered):
        """Move `done` over the oldest queued taps while covered(seq) (a receipt covers them),
        deleting the files wholly settled. Stops at the first tap not covered. A generator, one
        file per step; call from the sender task only (as merge())."""
        for s in self.segs[:]:
            if s[1] <= self.done:
                continue
            size = self._read(s[3])
            for off in range(0, size - REC + 1, REC):
                r = unpack(self.buf, off)
                if r is None or r[0] <= self.done:
                    continue
                if not covered(r[0]):
                    self._drop_settled()
                    return
                self.done = r[0]
                self.count = max(0, self.count - 1)
            yield
        self._drop_settled()

    def _drop_settled(self):
        while self.segs and self.segs[0][1] <= self.done and self.segs[0] is not self.hot:
            s = self.segs.pop(0)
            if not self.segs:  # the newest seq leaves the flash: keep the counter ahead of it
                write_int(self.root + "/seq", self.next_seq)
            remove(self.root + "/" + s[3])

    def merge_due(self):
        n = 0
        for s in self.segs:
            if s[3][0] == "h" and s is not self.hot and s[1] > self.done:
                n += 1
        return n >= MERGE_AT

    def merge(self):
        """Pack the oldest full hot files into a cold file: appended to the newest cold file
        while it has room, else a new one. Call from the sender task only (no ack runs in
        between); a generator, so the caller can let presses through between steps."""
        run = []
        total = 0
        start = 0
        for i in range(len(self.segs)):
            s = self.segs[i]
            if s[3][0] == "c" or s is self.hot:
                if run:
                    break
                continue
            if not run:
                start = i
            if total + s[2] > COLD_MAX or len(run) >= MERGE_AT:
                break
            run.append(s)
            total += s[2]
        if not run:
            return
        prev = self.segs[start - 1] if start else None
        if prev is not None and (prev[3][0] != "c" or prev[2] + total > COLD_MAX):
            prev = None
        # Copy the unsent records straight into the cold file, one hot file at a time
        # through the read buffer (no second buffer, nothing that grows). littlefs commits
        # the cold file at close only: cut before that, the cold file is as it was (or a new
        # one is missing) and every hot file is still whole.
        first = last = n = 0
        path = self.root + "/" + prev[3] if prev else self.root + "/m.tmp"
        with open(path, "ab" if prev else "wb") as f:
            for s in run:
                size = self._read(s[3])
                mv = memoryview(self.buf)
                for off in range(0, size - REC + 1, REC):
                    r = unpack(self.buf, off)
                    if r is None or r[0] <= self.done or r[0] <= last:
                        continue
                    first = first or r[0]
                    last = r[0]
                    n += 1
                    f.write(mv[off:off + REC])
                yield
        if prev:
            if n:
                prev[1] = last
                prev[2] += n
            self.segs[start:start + len(run)] = []
        elif n:
            name = "c/%09d" % first
            os.rename(path, self.root + "/" + name)
            self.segs[start:start + len(run)] = [[first, last, n, name]]
        else:
            remove(path)
            self.segs[start:start + len(run)] = []
        yield
        for s in run:
            remove(self.root + "/" + s[3])
            yield

    def usage(self):
        """Bytes of queue files on flash (for the flash budget figures)."""
        total = 0
        for s in self.segs:
            try:
                total += os.stat(self.root + "/" + s[3])[6]
            except OSError:
                pass
        return total
