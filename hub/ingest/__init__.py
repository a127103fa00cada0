"""The hub's ingest: MQTT messages in, committed taps out, nothing lost and nothing counted twice.

The path of a message, file by file:
1. mqtt_link.py    the hub's MQTT session (persistent, manual acks); mqtt_drain.py is its fast
                   lane, which hands over every PUBLISH of a socket read at once.
2. validate.py     on the network thread: each message's verdict through protocol/ (taps,
                   status, or a reject with its reason), once, at the edge.
3. service.py      queues the verdicts (bounded in bytes), gathers batches of up to BATCH_MAX
                   and hands them to the writer, two at a time.
4. committers.py   where the writer runs: a child process (`civic serve`, `civic ingest`) or a
                   thread (tests).
5. writer.py       ONE transaction per batch: taps (hub/store/taps.py), status
                   (hub/store/registry.py), rejects. Then service.py PUBACKs the batch.
configs.py publishes the kiosks' configs; metrics.py counts what happened; run.py is
`civic ingest` (and starts the ingest for `civic serve`).
"""
