"""Which firmware-update messages need the updater (docs/UPDATES.md). app.py routes the
`update` and `chunk` topics here; this small module loads with the first of them, the
updater (~10 KB with protocol/fwcore.py, updater.py) only for work not done yet: the
retained offer already handled comes again at every connect, and is dropped here after a
look at its "n" alone (parsing a 3 KB offer costs ~6 KB of heap).

The updater is loaded in a task of its own, not in the MQTT reader: by then the reader has
let go of the packet, and the heap has room for the code and the offer (build mode under
`--heap 128K`: ~26 KB free at an offer). Kept out of app.py on purpose: under the sim's
128K heap the kiosk's source is compiled at import with little to spare.
"""
import asyncio
import gc

from fwversion import VERSION as FW


def route(kiosk, topic, payload):
    try:
        u = kiosk.fwu
        if u is None:
            if topic == kiosk.topics["update"] and _new(kiosk, payload):
                kiosk.fwu = [payload]   # loading: an offer meanwhile replaces this one
                asyncio.create_task(_load(kiosk))
        elif type(u) is list:
            if topic == kiosk.topics["update"]:
                u[0] = payload
        else:
            u.on_message(topic, payload)
    except Exception as e:
        # The MQTT reader calls this: an error here would end the connection (and with it
        # the taps' way out). An update's trouble is logged instead, and it can resume.
        kiosk.board.log("update: %r" % (e,))


def _new(kiosk, payload):
    """Whether an offer may be work: not the one already handled (same "n", and done, or
    under way but this is the version it brought: on trial).
    A withdrawal with no updater running is nothing to do. Unsure: yes (the updater checks
    it whole)."""
    i = payload.find(b'"n"')
    if i < 0:
        return False
    try:
        n = int(payload[i + 3:i + 40].split(b",")[0].split(b"}")[0].strip(b" :"))
    except ValueError:
        return True
    p = kiosk.update or {}
    return n != p.get("acc") or (p.get("state") in ("downloading", "verified", "switched")
                                 and p.get("v") != FW)


async def _load(kiosk):
    while True:
        try:
            gc.collect()
            # The update's code and its offer take ~15 KB (unix port): not out of the heap
            # the taps need. Below 24 KB free, wait for a quieter moment.
            if gc.mem_free() < 24576:
                raise MemoryError("%d bytes free, the update waits" % gc.mem_free())
            import updater
            payload = kiosk.fwu[0]
            kiosk.fwu = updater.Updater(kiosk)
            kiosk.fwu.on_message(kiosk.topics["update"], payload)
            return
        except Exception as e:
            # Out of heap (a busy moment: a backlog draining): try again in 30 s, with the
            # latest offer that came meanwhile.
            kiosk.board.log("update: %r, trying again in 30 s" % (e,))
            if type(kiosk.fwu) is not list:
                kiosk.fwu = [payload]
        await asyncio.sleep_ms(30000)
