"""Help offers: after a skills press, where the citizen can get help with that skill.

The hub puts into each kiosk's config only the offers that kiosk needs (its district's, else
the city's, per skill category); this module picks the text in the kiosk's language and hands
it to the board, which shows it for SHOW_MS (the display; the sim prints `help TEXT`). It runs
after the confirm, so the ack stays instant; no offer for the skill: nothing is shown.
"""
import protocol

SHOW_MS = 8000


def show(board, cfg, skill, lang):
    """Show the offer for skill, if the config has one. -> the text shown, or None."""
    text = protocol.offer_text(cfg, skill, lang)
    if text is None:
        return None
    shower = getattr(board, "show_help", None)  # a board without it shows nothing
    if shower is not None:
        shower(text, SHOW_MS)
    return text
