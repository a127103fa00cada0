"""Open data: what the hub publishes, protected so that no combination of public answers gives
away a small count (docs/OPEN_DATA.md), and the formats a city's portal takes.

  grid.py     the publication grid (whole completed months x districts) and cell-key rounding
  catalog.py  the DCAT-AP description of the datasets (JSON-LD)
  ngsi.py     the same figures as NGSI-LD entities (FIWARE Smart Data Models)
  push.py     sending those entities to an NGSI-LD broker (`civic open push`)

The web routes are in hub/web/opendata.py; they only call these.
"""
