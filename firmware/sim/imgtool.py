"""Copy a folder (a build: main.py, *.mpy, lib/...) into a sim flash image, as `mpremote cp`
does to a Pico W. Run under MicroPython:  micropython imgtool.py DIR/flash.img SRC_DIR

The image is created and formatted when missing (same geometry as the board: blockdev.py).
"""
import os
import sys

sys.path[:0] = [__file__.rsplit("/", 1)[0] if "/" in __file__ else "."]
import blockdev  # noqa: E402


def copy_tree(src, dst):
    for ent in os.ilistdir(src):
        name, kind = ent[0], ent[1]
        s = src + "/" + name
        d = dst + "/" + name
        if kind == 0x4000:
            try:
                os.mkdir(d)
            except OSError:
                pass
            copy_tree(s, d)
        else:
            with open(s, "rb") as fi, open(d, "wb") as fo:
                while True:
                    b = fi.read(4096)
                    if not b:
                        break
                    fo.write(b)


def main(img, src):
    blockdev.mount(img, "/flash")
    copy_tree(src, "/flash")
    print("copied %s into %s" % (src, img))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
