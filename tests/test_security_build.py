"""Issue 14, attack 9: `civic kiosk build --out DIR` deletes only a build it made before."""
import os

import pytest

from hub.kiosk_tools import build as kiosk_build


def test_attack9_build_out_never_deletes_a_folder_it_did_not_make(tmp_path):
    victim = tmp_path / "home"
    victim.mkdir()
    (victim / "thesis.txt").write_text("years of work")
    with pytest.raises(kiosk_build.BuildError, match="not a kiosk build"):
        kiosk_build.build(str(victim))
    assert (victim / "thesis.txt").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["home"]  # no temporary folder left behind
    # A link to a folder is not followed (nor replaced).
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(kiosk_build.BuildError, match="link"):
        kiosk_build.build(str(link))
    assert (victim / "thesis.txt").exists() and link.is_symlink()
    # An empty folder, or a build made before, is fine; a rebuild replaces the old one.
    out = tmp_path / "out"
    out.mkdir()
    kiosk_build.build(str(out))
    assert (out / kiosk_build.MARKER).exists() and (out / "main.py").exists()
    (out / "stale.mpy").write_text("from an older build")
    with pytest.raises(kiosk_build.BuildError, match="stale.mpy"):
        kiosk_build.build(str(out))  # not ours: a file the build did not make
    (out / "stale.mpy").unlink()
    kiosk_build.build(str(out))
    assert kiosk_build.build_files(str(out))
