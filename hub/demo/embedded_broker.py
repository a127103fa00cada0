"""An MQTT broker inside the hub's process (amqtt), so `make demo` needs no system package.

Production hubs use Mosquitto with hub/fleet/deploy/mosquitto.conf: amqtt keeps sessions and retained
messages in memory only, which is fine for a demo and wrong for a city.
"""
import asyncio
import logging
import threading


class EmbeddedBroker:
    def __init__(self, host="127.0.0.1", port=1883):
        self.host, self.port = host, port
        self._loop = None
        self._broker = None
        self._ready = threading.Event()
        self._error = None

    def start(self, timeout=15):
        threading.Thread(target=self._run, name="embedded-broker", daemon=True).start()
        if not self._ready.wait(timeout) or self._error:
            raise RuntimeError("embedded MQTT broker did not start on %s:%d: %s"
                               % (self.host, self.port, self._error or "timeout"))
        return self

    def _run(self):
        from amqtt.broker import Broker
        # amqtt logs every connection at INFO; the demo's own output is what matters.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        cfg = {"listeners": {"default": {"type": "tcp", "bind": "%s:%d" % (self.host, self.port)}},
               "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                           {"allow_anonymous": True}}}
        try:
            self._broker = Broker(cfg, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except Exception as e:  # port taken, bad config: reported by start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def stop(self):
        if self._loop and self._broker:
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                fut.result(10)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def url(self):
        return "mqtt://%s:%d" % (self.host, self.port)
