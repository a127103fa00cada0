"""One MQTT message as the hub received it, before anything looked inside.

topic and payload are raw bytes (a topic that is not UTF-8 must still become a reject row);
retain the broker's flag; received the hub's clock (Unix seconds); mid and qos what the
PUBACK needs; gen the connection it arrived on (an ack only makes sense on that connection).
"""
import collections

Msg = collections.namedtuple("Msg", "topic payload retain received mid qos gen")
