"""The compiled firmware (.mpy from mpy-cross, as flashed) runs in the sim, from a build folder
and booted from inside the flash image as a Pico W boots."""
import json

from tests.support.collector import Collector
from hub.kiosk_tools.build import build as civic_kiosk_build
from tests.support.kiosk import SimKiosk, install_into_image


def test_compiled_build_and_boot_from_flash(tmp_path, broker):
    build = str(tmp_path / "build")
    civic_kiosk_build(build)  # what `civic kiosk build` produces and `civic kiosk flash` installs
    c = Collector(broker.port).start()
    try:
        with SimKiosk(tmp_path / "k", "built-1", broker.url, args=["--build", build]) as k:
            k.press(0)
            k.press(6)
            acks = k.wait_count("ack", 2)
            k.wait_count("sent", 2)
            assert k.stats()["code"].endswith(build + "/app.mpy")
        assert c.wait_seqs("built-1", acks) == []
        # Flash the build and a settings.json into a new image; boot what is inside it.
        site = tmp_path / "site"
        site.mkdir()
        (site / "settings.json").write_text(json.dumps(
            {"id": "flashed-1", "broker": broker.url, "lang": "en"}))
        install_into_image(str(tmp_path / "f"), build)
        install_into_image(str(tmp_path / "f"), str(site))
        with SimKiosk(tmp_path / "f", None, None, args=["--boot-flash"]) as k:
            k.press(1)
            acks = k.wait_count("ack", 1)
            k.wait_count("sent", 1)
            assert k.stats()["code"] == "/flash/app.mpy"
        assert c.wait_seqs("flashed-1", acks) == []
        assert c.taps[("flashed-1", acks[0])]["value"] == 2
    finally:
        c.stop()
