"""`civic open push --ngsi-ld URL`: the open data's NGSI-LD entities (ngsi.py) sent to a context
broker (Orion-LD, Scorpio, Stellio) with POST /ngsi-ld/v1/entityOperations/upsert.

- Batched: at most `batch` entities per request.
- Retried: a connection error, a timeout, 429 or 5xx is tried again after 0.5 s, 1 s, 2 s, ...
  (`retries` times); any other refusal stops the push with the broker's answer.
- Idempotent: entity ids are stable (area, month, figure) and upsert replaces, so pushing the
  same data twice leaves the broker as it was, and a push cut short can simply be run again.
The entities carry their @context, so the body is application/ld+json.
"""
import json
import os
import time
import urllib.error
import urllib.request

from hub.opendata import grid, ngsi

UPSERT = "/ngsi-ld/v1/entityOperations/upsert"


class PushError(RuntimeError):
    pass


def endpoint(url):
    url = url.rstrip("/")
    return url if url.endswith(UPSERT) else url + UPSERT


def _send(req, timeout):
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def push(url, entities, batch=100, tenant=None, retries=5, backoff=0.5, timeout=10,
         sleep=time.sleep):
    """-> {"entities": n, "requests": n, "retried": n}; PushError when the broker refuses."""
    target = endpoint(url)
    headers = {"Content-Type": "application/ld+json", "Accept": "application/json"}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    stats = {"entities": 0, "requests": 0, "retried": 0}
    for i in range(0, len(entities), batch):
        chunk = entities[i:i + batch]
        body = json.dumps(chunk).encode()
        for attempt in range(retries + 1):
            req = urllib.request.Request(target, data=body, headers=headers, method="POST")
            try:
                status, answer = _send(req, timeout)
                stats["requests"] += 1
                if status == 207:   # some entities refused: name them
                    raise PushError("broker refused some entities: %s" % answer[:2000].decode(
                        "utf-8", "replace"))
                break
            except urllib.error.HTTPError as e:
                stats["requests"] += 1
                if e.code != 429 and e.code < 500:
                    raise PushError("broker answered %d: %s" % (
                        e.code, e.read()[:2000].decode("utf-8", "replace")))
                err = "HTTP %d" % e.code
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                err = str(e)
            if attempt == retries:
                raise PushError("%s: gave up after %d tries: %s" % (target, retries + 1, err))
            stats["retried"] += 1
            sleep(backoff * 2 ** attempt)
        stats["entities"] += len(chunk)
    return stats


def open_data_entities(db, period="all"):
    """The entities /api/v1/open/ngsi-ld gives, built from the caller's connection (the CLI's),
    with the threshold and names from the environment as `civic serve` would have them."""
    months = grid.published_months(db)
    periods = months if period == "all" else [grid.check_period(db, period)]
    k = grid.min_count(db, os.environ.get("CIVIC_OPEN_DATA_MIN_COUNT") or 5)
    tables = grid.tables(db, periods, k, grid.cell_key(db))
    return ngsi.entities(tables, grid.DEFINITIONS,
                         os.environ.get("CIVIC_OPEN_DATA_CITY", "City"),
                         os.environ.get("CIVIC_OPEN_DATA_PUBLISHER", "The city's civic kiosk hub"))
