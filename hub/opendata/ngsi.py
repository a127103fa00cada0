"""The open data as NGSI-LD entities (normalized form) of FIWARE's Smart Data Model
KeyPerformanceIndicator (dataModel.KeyPerformanceIndicator): one entity per published figure,
that is per area (a district or the whole city), month and measure.

The values are exactly the protected ones of grid.py: no other number is published. Entity ids
are stable (area, month, measure), so sending them again updates them and creates nothing new
(push.py). The @context is the model's official context URL and the NGSI-LD core context, as
strings: nothing is fetched here.

Kiosks are not published as `Device` entities: Device requires `controlledProperty` from a fixed
list (airPollution ... windSpeed) that has nothing for a button, and a kiosk's own figures or
timestamps would be the per-kiosk small counts the grid exists to avoid (docs/OPEN_DATA.md).
"""
from urllib.parse import quote

KPI_CONTEXT = ("https://raw.githubusercontent.com/smart-data-models/"
               "dataModel.KeyPerformanceIndicator/master/context.jsonld")
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
CONTEXT = [KPI_CONTEXT, CORE_CONTEXT]
ID_PREFIX = "urn:ngsi-ld:KeyPerformanceIndicator:civic-kiosk:"


def _prop(value):
    return {"type": "Property", "value": value}


def _measures(r):
    yield "taps", r["taps"]
    yield "mood.count", r["mood"]["count"]
    for v, n in r["mood"]["by_value"].items():
        yield "mood.by_value." + v, n
    for s, n in r["skills"].items():
        yield "skills." + s, n
    if r["mood"]["index"] is not None:
        yield "mood.index", r["mood"]["index"]


def entity_id(area_kind, area, period, measure):
    parts = [area_kind] + ([quote(area, safe="")] if area_kind == "district" else [])
    return ID_PREFIX + ":".join(parts + [period, measure])


def entities(tables, definitions, city_name, publisher, context=True):
    """tables: grid.tables(...) -> [entity]. definitions: {measure family: text}."""
    out = []
    for t in tables:
        for r in t["districts"] + [t["city"]]:
            kind = "city" if r["district"] is None else "district"
            area = city_name if kind == "city" else r["district"]
            for measure, value in _measures(r):
                family = measure if measure in definitions else measure.rsplit(".", 1)[0]
                e = {
                    "id": entity_id(kind, area, t["period"], measure),
                    "type": "KeyPerformanceIndicator",
                    "name": _prop(measure),
                    "description": _prop(definitions.get(family, measure)),
                    "kpiValue": _prop(value),
                    "calculationPeriod": _prop({"from": t["from"], "to": t["to"]}),
                    "calculationFrequency": _prop("monthly"),
                    "category": _prop(["quantitative"]),
                    "process": _prop("Citizen feedback kiosks"),
                    "organization": _prop(publisher),
                    "areaServed": _prop(area),
                    "dataProvider": _prop(publisher),
                }
                if context:
                    e["@context"] = CONTEXT
                out.append(e)
    return out
