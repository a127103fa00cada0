"""The DCAT-AP description of the open data (JSON-LD), for a city's open-data portal to harvest:
a dcat:Catalog with its publisher, and one dcat:Dataset (feedback by district and month) with
licence, publisher, temporal and spatial coverage, update frequency (monthly), its definitions,
and three distributions: CSV, JSON and NGSI-LD. Every class and property is from DCAT-AP 2/3
(dcat:, dct:, foaf:, vcard:, locn:); the EU vocabularies' URIs are used for frequency, file type
and theme.
"""
from urllib.parse import urlencode

EU = "http://publications.europa.eu/resource/authority/"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _text(s):
    return {"@value": s, "@language": "en"}


def _distribution(base, path, params, title, fmt, media, licence_url):
    url = base + path + ("?" + urlencode(params) if params else "")
    return {"@id": url + "#distribution", "@type": "dcat:Distribution",
            "dct:title": _text(title),
            "dcat:accessURL": {"@id": url}, "dcat:downloadURL": {"@id": url},
            "dct:format": {"@id": EU + "file-type/" + fmt},
            "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/" + media},
            "dct:license": {"@id": licence_url}}


def catalog(base, months, info, definitions):
    """base: the hub's public root URL without a trailing slash. months: published months.
    info: publisher, publisher_uri, city, licence_url, contact (e-mail or None), threshold."""
    publisher = {"@id": info["publisher_uri"], "@type": "foaf:Agent",
                 "foaf:name": info["publisher"]}
    lic = info["licence_url"]
    defs = "; ".join("%s: %s" % kv for kv in sorted(definitions.items()))
    dataset = {
        "@id": base + "/api/v1/open/catalog#feedback",
        "@type": "dcat:Dataset",
        "dct:identifier": base + "/api/v1/open/catalog#feedback",
        "dct:title": _text("Citizen feedback kiosks: answers by district and month"),
        "dct:description": _text(
            "Presses of the mood and digital-skills buttons of the city's feedback kiosks, per "
            "district and whole calendar month, and the mood index. Every count is rounded to a "
            "multiple of %d by cell-key rounding, the same way each time; totals, the whole "
            "city and the index are computed from the rounded counts, so no combination of "
            "figures reveals a smaller count. Definitions: %s" % (info["threshold"], defs)),
        "dct:publisher": publisher,
        "dct:license": {"@id": lic},
        "dct:accrualPeriodicity": {"@id": EU + "frequency/MONTHLY"},
        "dcat:theme": [{"@id": EU + "data-theme/GOVE"}, {"@id": EU + "data-theme/SOCI"}],
        "dcat:keyword": [_text(k) for k in ("participation", "citizen feedback", "mood",
                                            "digital skills", "kiosk")],
        "dct:spatial": {"@type": "dct:Location", "locn:geographicName": _text(info["city"])},
        "dcat:landingPage": {"@id": base + "/open"},
        "dcat:distribution": [
            _distribution(base, "/api/v1/open/summary.csv", {"period": "all"},
                          "Every published month as CSV", "CSV", "text/csv", lic),
            _distribution(base, "/api/v1/open/summary", {},
                          "The latest month as JSON (?period=YYYY-MM for another)", "JSON",
                          "application/json", lic),
            _distribution(base, "/api/v1/open/ngsi-ld", {"period": "all"},
                          "NGSI-LD entities (FIWARE Smart Data Model KeyPerformanceIndicator)",
                          "JSON_LD", "application/ld+json", lic),
        ],
    }
    if months:
        dataset["dct:temporal"] = {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": months[0]["from"], "@type": "xsd:date"},
            "dcat:endDate": {"@value": months[-1]["to"], "@type": "xsd:date"}}
    if info.get("contact"):
        dataset["dcat:contactPoint"] = {"@type": "vcard:Organization",
                                        "vcard:fn": info["publisher"],
                                        "vcard:hasEmail": {"@id": "mailto:" + info["contact"]}}
    return {
        "@context": CONTEXT,
        "@id": base + "/api/v1/open/catalog",
        "@type": "dcat:Catalog",
        "dct:title": _text("Open data of the civic feedback kiosks"),
        "dct:description": _text("Public, privacy-protected figures from the city's feedback "
                                 "kiosks."),
        "dct:publisher": publisher,
        "dct:license": {"@id": lic},
        "foaf:homepage": {"@id": base + "/open"},
        "dcat:dataset": [dataset],
    }
