"""A file-backed flash for the sim: the Pico W's geometry (212 blocks of 4 KiB), counting erases
and programs, mounted with vfs.VfsLfs2 exactly as the rp2 port mounts its flash (progsize 256).

Each write goes straight to the image file with one write() call and no buffering in this
process, so a kill -9 leaves the image exactly as a power cut leaves the chip: every finished
program is there, nothing after it. littlefs is built to mount such an image.
"""
import os
import time

BLOCK = 4096
BLOCKS = 212
PROGSIZE = 256  # what MicroPython's rp2 port passes to VfsLfs2 for its flash
ERASED = b"\xff" * 256  # written 16 times per erase: no 4 KiB constant on the heap

# The W25Q16JV's typical times (Winbond datasheet, AC electrical characteristics: tSE 4 KiB
# sector erase 45 ms typ / 400 ms max, tPP page program 0.4 ms typ / 3 ms max). On the rp2
# port the block device's erase and program (ports/rp2/rp2_flash.c: flash_range_erase and
# flash_range_program) run with interrupts disabled and the XIP flash unreadable, so the CPU
# does nothing else meanwhile: here the whole process sleeps. `--flash-timing off` sets
# TIMING False (the sim as fast as the PC), as for the PC tools (imgtool.py).
TIMING = False  # sim_main turns it on for `civic kiosk sim`
ERASE_MS = 45
PROGRAM_US_PER_PAGE = 400


class FileBlockDev:
    def __init__(self, path, blocks=BLOCKS):
        self.path = path
        self.blocks = blocks
        self.erases = 0
        self.programs = 0
        self.fresh = False
        try:
            size = os.stat(path)[6]
        except OSError:
            size = -1
        if size != blocks * BLOCK:
            with open(path, "wb") as f:
                for _ in range(blocks * BLOCK // len(ERASED)):
                    f.write(ERASED)
            self.fresh = True
        self.f = open(path, "r+b")

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * BLOCK + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:  # the simple interface: erase then program the whole block
            self.erases += 1
            off = 0
            if TIMING:
                time.sleep_ms(ERASE_MS)
        self.programs += 1
        if TIMING:
            time.sleep_us(PROGRAM_US_PER_PAGE * ((len(buf) + 255) // 256))
        self.f.seek(n * BLOCK + off)
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return BLOCK
        if op == 6:  # erase: a real erase sets every bit, and costs the block one cycle
            self.erases += 1
            if TIMING:
                time.sleep_ms(ERASE_MS)
            self.f.seek(arg * BLOCK)
            for _ in range(BLOCK // len(ERASED)):
                self.f.write(ERASED)
        return 0


def mount(path, at="/flash"):
    """Mount the image at `at`, formatting it first when it is new. -> the block device."""
    import vfs
    bdev = FileBlockDev(path)
    if bdev.fresh:
        vfs.VfsLfs2.mkfs(bdev, progsize=PROGSIZE)
    vfs.mount(vfs.VfsLfs2(bdev, progsize=PROGSIZE), at)
    return bdev
