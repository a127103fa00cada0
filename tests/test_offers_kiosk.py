"""Help offers on the kiosk: the real firmware under MicroPython, configs through a real
Mosquitto. After a skills press the kiosk shows its offer (`help TEXT`) after the ack; a skill
without an offer shows nothing; an old config without offers changes nothing."""
from tests.support.kiosk import SimKiosk


def test_a_skills_press_shows_the_offer_after_the_ack(tmp_path, broker, collector):
    kid = "help-1"
    with SimKiosk(tmp_path / "k", kid, broker.url) as k:
        k.wait_line(r"^log mqtt connected")
        collector.push_config(kid, {"rev": 4, "cooldown_ms": 0, "skills": ["basics", "eservices", "safety", "work"],
                                    "offers": {
                                        "basics": {"en": "Library North - Tue 10-12",
                                                   "nl": "Bibliotheek Noord - di 10-12"},
                                        "work": {"nl": "Werkplein, elke ochtend"}}})
        k.wait_line(r"^log config rev 4$")
        k.send("press 4", "press 5", "press 7", "press 0")
        acks = k.wait_count("ack", 4)
        k.wait_line(r"^help Werkplein")
        lines = [l for _t, l in k.lines if l.startswith(("ack ", "help "))]
        # The kiosk's language is English; a text only in Dutch is shown as it is.
        assert lines == ["ack %d" % acks[0], "help Library North - Tue 10-12",
                         "ack %d" % acks[1],  # eservices: no offer, nothing shown
                         "ack %d" % acks[2], "help Werkplein, elke ochtend",
                         "ack %d" % acks[3]], lines  # a mood press never shows an offer
        # A config without offers takes them away again.
        collector.push_config(kid, {"rev": 5, "cooldown_ms": 0})
        k.wait_line(r"^log config rev 5$")
        k.send("press 6", "press 4", "press 1")
        more = k.wait_count("ack", 7)
        lines = [l for _t, l in k.lines if l.startswith(("ack ", "help "))]
        assert lines[-3:] == ["ack %d" % s for s in more[4:]], lines
