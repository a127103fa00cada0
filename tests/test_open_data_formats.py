"""The open data in the formats city portals take: DCAT-AP (parsed as RDF with rdflib), NGSI-LD
entities checked against the Smart Data Models' own definitions (pysmartdatamodels, offline),
and `civic open push` against a local stand-in NGSI-LD broker that checks the requests."""
import datetime
import http.server
import json
import os
import re
import socket
import threading
import zoneinfo

import pytest
from click.testing import CliRunner

from hub.cli import cli
from tests.support.webdata import add_kiosk, store_taps

SUBJECT, MODEL = "dataModel.KeyPerformanceIndicator", "KeyPerformanceIndicator"


def _month_ago(n):
    d = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Amsterdam")).date().replace(day=1)
    for _ in range(n):
        d = (d - datetime.timedelta(days=1)).replace(day=1)
    return d.replace(day=12)


@pytest.fixture
def seeded(app, db_path):
    add_kiosk(db_path, "n-1", "north")
    add_kiosk(db_path, "s-1", "south")
    seq = 0
    for back in (1, 2):
        d = _month_ago(back)
        ts = int(datetime.datetime(d.year, d.month, d.day, 12,
                                   tzinfo=datetime.timezone.utc).timestamp())
        for k, n in (("n-1", 23), ("s-1", 3)):
            taps = []
            for i in range(n):
                seq += 1
                taps.append((seq, ts, "mood", 1 + i % 4, None) if i % 3 else
                            (seq, ts, "skill", "work", None))
            store_taps(db_path, k, taps)
    return [_month_ago(2).strftime("%Y-%m"), _month_ago(1).strftime("%Y-%m")]


def test_catalog_is_dcat_ap_and_its_distributions_answer(client, seeded):
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD
    r = client.get("/api/v1/open/catalog")
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    g = rdflib.Graph().parse(data=r.data.decode(), format="json-ld")
    (cat,) = g.subjects(RDF.type, DCAT.Catalog)
    for p in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.dataset):
        assert g.value(cat, p) is not None, p           # DCAT-AP: mandatory for a Catalog
    publisher = g.value(cat, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in g and g.value(publisher, FOAF.name)
    (ds,) = g.objects(cat, DCAT.dataset)
    assert (ds, RDF.type, DCAT.Dataset) in g
    for p in (DCTERMS.title, DCTERMS.description,                 # mandatory for a Dataset
              DCTERMS.publisher, DCTERMS.temporal, DCTERMS.spatial, DCTERMS.accrualPeriodicity,
              DCAT.theme, DCAT.keyword, DCAT.distribution, DCAT.landingPage):
        assert g.value(ds, p) is not None, p
    assert "Definitions" in str(g.value(ds, DCTERMS.description))
    assert str(g.value(ds, DCTERMS.accrualPeriodicity)).endswith("/frequency/MONTHLY")
    temporal = g.value(ds, DCTERMS.temporal)
    start, end = g.value(temporal, DCAT.startDate), g.value(temporal, DCAT.endDate)
    assert start.datatype == XSD.date and str(start) == seeded[0] + "-01"
    assert str(end).startswith(seeded[1] + "-")
    dists = list(g.objects(ds, DCAT.distribution))
    assert len(dists) == 3
    kinds = set()
    for d in dists:
        assert (d, RDF.type, DCAT.Distribution) in g
        url = g.value(d, DCAT.accessURL)
        assert isinstance(url, rdflib.URIRef), d           # mandatory for a Distribution
        assert g.value(d, DCTERMS.license) is not None and g.value(d, DCTERMS.format) is not None
        path = re.sub(r"^https?://[^/]+", "", str(url))
        answer = client.get(path)
        assert answer.status_code == 200, path
        kinds.add(answer.mimetype)
    assert kinds == {"text/csv", "application/json", "application/ld+json"}


def _no_network(monkeypatch):
    real = socket.socket.connect

    def connect(self, addr):
        if isinstance(addr, tuple) and addr[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError("the test tried to reach %r" % (addr,))
        return real(self, addr)
    monkeypatch.setattr(socket.socket, "connect", connect)


def _allowed(description):
    m = re.search(r"Allowed values: [^(]*\(([^)]*)\)", description)
    return [v.strip() for v in m.group(1).split(",")] if m else None


def test_ngsi_ld_entities_follow_the_smart_data_model(client, seeded, monkeypatch):
    _no_network(monkeypatch)
    import pysmartdatamodels as sdm
    meta_path = os.path.join(os.path.dirname(sdm.__file__), "model-assets",
                             "datamodels_metadata.json")
    (meta,) = [m for m in json.load(open(meta_path, encoding="utf-8"))
               if m["dataModel"] == MODEL and m["subject"] == SUBJECT]
    attrs = set(sdm.attributes_datamodel(SUBJECT, MODEL))
    r = client.get("/api/v1/open/ngsi-ld?period=all")
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    entities = r.get_json()
    assert entities and len({e["id"] for e in entities}) == len(entities)
    json_types = {"string": str, "array": list, "object": dict, "number": (int, float)}
    names = {n for e in entities for n in e} - {"id", "type", "@context"}
    assert names <= attrs, "not attributes of %s: %s" % (MODEL, names - attrs)
    model = {n: (sdm.ngsi_datatype_attribute(SUBJECT, MODEL, n),      # each looked up once:
                 sdm.datatype_attribute(SUBJECT, MODEL, n),            # every call reads the
                 sdm.description_attribute(SUBJECT, MODEL, n)) for n in names}  # whole list
    for e in entities:
        assert e["type"] == MODEL and e["id"].startswith("urn:ngsi-ld:%s:" % MODEL)
        assert e["@context"][0] == meta["@context"]     # the official context, as a string
        for req in meta["required"]:
            assert req in e, req
        for name, attr in e.items():
            if name in ("id", "type", "@context"):
                continue
            ngsi_type, json_type, desc = model[name]
            assert attr["type"] == ngsi_type, name
            if "any type" not in desc:                  # kpiValue: "It can be of any type"
                assert isinstance(attr["value"], json_types[json_type]), name
            allowed = _allowed(desc)
            if allowed:
                values = attr["value"] if isinstance(attr["value"], list) else [attr["value"]]
                assert set(values) <= set(allowed), (name, values)
        # the same disclosure control: every count a multiple of 5, the index from them
        if e["name"]["value"] != "mood.index":
            assert e["kpiValue"]["value"] % 5 == 0, e
    # exactly the figures of the JSON summary
    last = client.get("/api/v1/open/summary").get_json()
    north = {e["name"]["value"]: e["kpiValue"]["value"] for e in entities
             if e["id"].endswith(":district:north:%s:taps" % seeded[1])
             or ":district:north:%s:" % seeded[1] in e["id"]}
    row = [d for d in last["districts"] if d["district"] == "north"][0]
    assert north["taps"] == row["taps"] and north["mood.count"] == row["mood"]["count"]
    assert north.get("mood.index") == row["mood"]["index"]


class Broker(http.server.ThreadingHTTPServer):
    """A stand-in NGSI-LD broker: checks each upsert's shape, keeps the entities by id, and
    answers 503 to the first request of all so the client has to retry."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.entities, self.requests, self.problems, self.fail_first = {}, [], [], True


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        s = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        s.requests.append(self.path)
        if self.path != "/ngsi-ld/v1/entityOperations/upsert":
            s.problems.append("path " + self.path)
        if self.headers["Content-Type"] != "application/ld+json":
            s.problems.append("content type " + self.headers["Content-Type"])
        if s.fail_first:
            s.fail_first = False
            self.send_response(503)
            self.end_headers()
            return
        batch = json.loads(body)
        if not isinstance(batch, list) or not 1 <= len(batch) <= 7:
            s.problems.append("batch of %r" % len(batch))
        for e in batch:
            if not (e.get("id", "").startswith("urn:ngsi-ld:") and e.get("type")
                    and e.get("@context")):
                s.problems.append("entity " + json.dumps(e)[:200])
            s.entities[e["id"]] = e
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def broker_stub():
    b = Broker()
    t = threading.Thread(target=b.serve_forever, daemon=True)
    t.start()
    yield b
    b.shutdown()
    b.server_close()


def test_open_push_upserts_in_batches_retries_and_is_idempotent(client, db_path, seeded,
                                                                 broker_stub):
    url = "http://127.0.0.1:%d" % broker_stub.server_address[1]
    res = CliRunner().invoke(cli, ["open", "push", "--ngsi-ld", url, "--batch", "7",
                                   "--db", db_path])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.output)
    published = client.get("/api/v1/open/ngsi-ld?period=all").get_json()
    assert stats["entities"] == len(published) and stats["retried"] == 1
    assert broker_stub.problems == []
    assert len(broker_stub.requests) == -(-len(published) // 7) + 1
    assert broker_stub.entities == {e["id"]: e for e in published}
    before = json.dumps(broker_stub.entities, sort_keys=True)
    again = CliRunner().invoke(cli, ["open", "push", "--ngsi-ld", url + "/", "--batch", "7",
                                     "--db", db_path])
    assert again.exit_code == 0, again.output
    assert json.dumps(broker_stub.entities, sort_keys=True) == before   # nothing new, no change


def test_open_push_says_what_the_broker_refused(db_path, seeded):
    class Refuse(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"title": "bad entity"}')
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        res = CliRunner().invoke(cli, ["open", "push", "--ngsi-ld", "http://127.0.0.1:%d"
                                       % srv.server_address[1], "--db", db_path])
    finally:
        srv.shutdown()
        srv.server_close()
    assert res.exit_code == 1 and "400" in res.output and "bad entity" in res.output
