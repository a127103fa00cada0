"""Ingest counters, and their exposition in the Prometheus text format (version 0.0.4) that
GET /metrics serves (hub/web/health.py).

Only the ingest's writer loop increments (the network thread only sets the gauges), so plain
attributes are enough; a scrape may read a counter one batch old, never a torn value.
"""
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self):
        self.messages = {"taps": 0, "status": 0, "reject": 0}
        self.taps_ingested = 0
        self.taps_duplicate = 0
        self.configs_published = 0
        self.receipts_published = 0
        self.fw_chunks = 0            # firmware chunks sent (hub/ingest/fw_offers.py)
        self.fw_fetch_refused = 0     # fetches of a release not offered to that kiosk
        self.fw_fetch_dropped = 0     # fetches beyond a kiosk's rate
        self.batches = 0
        self.batch_sum = 0.0
        self.batch_buckets = [0] * len(BUCKETS)
        self.last_batch_seconds = 0.0
        self.db_errors = 0

    def record(self, summary):
        """Add one committed batch (the summary from hub/ingest/writer.py's Writer.commit)."""
        for k in ("taps", "status", "reject"):
            self.messages[k] += summary[k]
        self.taps_ingested += summary["inserted"]
        self.taps_duplicate += summary["duplicates"]
        self.batch(summary["seconds"])

    def batch(self, seconds):
        self.batches += 1
        self.batch_sum += seconds
        self.last_batch_seconds = seconds
        for i, b in enumerate(BUCKETS):
            if seconds <= b:
                self.batch_buckets[i] += 1


def render(ingest):
    """The exposition text for one ingest (None: only the connection gauge, at 0)."""
    out = []

    def metric(name, kind, help_, samples):
        out.append("# HELP %s %s" % (name, help_))
        out.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            out.append("%s%s %s" % (name, labels, value))

    connected = 1 if ingest is not None and ingest.connected else 0
    metric("civic_broker_connected", "gauge", "1 while the ingest's MQTT connection is up.",
           [("", connected)])
    if ingest is None:
        return "\n".join(out) + "\n"
    m = ingest.metrics
    metric("civic_ingest_messages_total", "counter", "MQTT messages processed, by outcome.",
           [('{outcome="%s"}' % k, v) for k, v in sorted(m.messages.items())])
    metric("civic_ingest_taps_total", "counter", "Taps committed for the first time.",
           [("", m.taps_ingested)])
    metric("civic_ingest_duplicates_total", "counter",
           "Taps received again (redelivery) and not counted twice.", [("", m.taps_duplicate)])
    metric("civic_ingest_rejects_total", "counter", "Messages refused into the rejects table.",
           [("", m.messages["reject"])])
    metric("civic_ingest_configs_published_total", "counter",
           "Kiosk configs published retained and acknowledged by the broker.",
           [("", m.configs_published)])
    metric("civic_ingest_receipts_published_total", "counter",
           "Receipts (committed seqs) published to kiosks.", [("", m.receipts_published)])
    metric("civic_ingest_fw_chunks_total", "counter",
           "Firmware chunks sent to kiosks, and fetches refused or dropped (over the rate).",
           [('{outcome="sent"}', m.fw_chunks), ('{outcome="refused"}', m.fw_fetch_refused),
            ('{outcome="dropped"}', m.fw_fetch_dropped)])
    metric("civic_ingest_db_errors_total", "counter", "Batches whose commit failed and was retried.",
           [("", m.db_errors)])
    metric("civic_ingest_queue_depth", "gauge", "Messages received and not yet committed.",
           [("", ingest.queue_depth())])
    cum = []
    for i, b in enumerate(BUCKETS):
        cum.append(('{le="%s"}' % b, m.batch_buckets[i]))
    cum.append(('{le="+Inf"}', m.batches))
    out.append("# HELP civic_ingest_batch_seconds Time to validate and commit one batch.")
    out.append("# TYPE civic_ingest_batch_seconds histogram")
    for labels, v in cum:
        out.append("civic_ingest_batch_seconds_bucket%s %s" % (labels, v))
    out.append("civic_ingest_batch_seconds_sum %r" % m.batch_sum)
    out.append("civic_ingest_batch_seconds_count %s" % m.batches)
    return "\n".join(out) + "\n"
