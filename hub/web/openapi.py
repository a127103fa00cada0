"""The OpenAPI 3 description of /api/v1 (served at /api/v1/openapi.json; docs/API.md is the
prose version). tests/test_api_openapi.py runs schemathesis against the running app with it,
so every documented parameter, status and response shape is checked against what the hub does.
"""
from flask import jsonify

from hub.web.api import Twins

twins = Twins()

INT = {"type": "integer", "minimum": 0}
NINT = {"type": "integer", "minimum": 0, "nullable": True}
COUNTS = {"type": "object", "additionalProperties": INT}
BY_VALUE = {"type": "object", "required": ["1", "2", "3", "4"],
            "properties": {v: INT for v in "1234"}, "additionalProperties": False}
MOOD = {"type": "object", "required": ["count", "index", "by_value"], "properties": {
    "count": INT, "index": {"type": "number", "minimum": 0, "maximum": 100, "nullable": True},
    "by_value": BY_VALUE}}
SUMMARY = {"type": "object", "required": ["taps", "mood", "skills", "kiosks"], "properties": {
    "taps": INT, "mood": MOOD,
    "skills": {"type": "object", "required": ["basics", "eservices", "safety", "work"],
               "additionalProperties": INT},
    "kiosks": {"type": "object", "required": ["total", "online"],
               "properties": {"total": INT, "online": INT}}}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
# An empty value means "no filter" (HTML filter forms send empty fields).
NONE = {"type": "string", "maxLength": 0}
DATE = {"anyOf": [{"type": "string", "format": "date", "example": "2026-01-31"}, NONE]}


def _p(name, schema, desc):
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": desc}


P_FROM = _p("from", DATE, "First day (ISO date, city time), inclusive.")
P_TO = _p("to", DATE, "Last day (ISO date, city time), inclusive.")
P_DISTRICT = _p("district", {"type": "string", "maxLength": 64, "pattern": "^[^\\x00-\\x1f]*$"},
               "District name.")
P_KIOSK = _p("kiosk", {"type": "string", "pattern": "^([a-z0-9][a-z0-9-]{0,31})?$"}, "Kiosk id.")
P_QUESTION = _p("question", {"type": "string", "pattern": "^([a-z0-9][a-z0-9_.-]{0,63})?$"},
                "Question id: only mood taps answering it.")
FILTERS = [P_FROM, P_TO, P_DISTRICT, P_KIOSK, P_QUESTION]
MONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "example": "2026-10"}
P_MONTH = _p("period", {"anyOf": [MONTH, NONE]},
             "A whole calendar month that is over (YYYY-MM); default the latest. Others: 400.")
P_PERIOD = _p("period", {"anyOf": [MONTH, {"type": "string", "enum": ["all"]}, NONE]},
              "A whole calendar month that is over (YYYY-MM), or all; default the latest.")
OPEN_ROW = {"type": "object", "required": ["district", "taps", "mood", "skills"], "properties": {
    "district": {"type": "string", "nullable": True}, "taps": INT, "mood": MOOD,
    "skills": COUNTS}}
OPEN_SUMMARY = {"type": "object", "required": [
    "period", "from", "to", "periods", "districts", "city", "suppression_threshold",
    "rounding_base", "licence", "licence_url", "definitions"], "properties": {
    "period": {"type": "string", "nullable": True},
    "periods": {"type": "array", "items": MONTH},
    "districts": {"type": "array", "items": OPEN_ROW},
    "city": {"allOf": [OPEN_ROW], "nullable": True},
    "suppression_threshold": {"type": "integer", "minimum": 1},
    "rounding_base": {"type": "integer", "minimum": 1}}}

KIOSK = {"type": "object", "required": ["id", "online", "last_seen", "queue", "district", "fw",
                                        "filtered", "config_rev", "first_seen", "missing"],
         "properties": {
             "id": {"type": "string"}, "online": {"type": "boolean"}, "last_seen": NINT,
             "queue": NINT, "district": {"type": "string", "nullable": True},
             "place": {"type": "string", "nullable": True},
             "lat": {"type": "number", "nullable": True},
             "lon": {"type": "number", "nullable": True},
             "fw": {"type": "string", "nullable": True}, "filtered": NINT,
             "config_rev": NINT, "config_rev_wanted": NINT, "first_seen": NINT,
             "missing": {"type": "array", "items": {"type": "array", "items": INT,
                                                     "minItems": 2, "maxItems": 2}},
             "missing_count": INT, "offline_seconds": NINT, "stands_out": {"type": "boolean"}}}

NSTR = {"type": "string", "nullable": True}
FW_UPDATE = {"type": "object", "nullable": True, "required": [
    "version", "n", "state", "reason", "done", "total", "crash", "offered_at", "updated_at"],
    "properties": {
        "version": {"type": "string"}, "n": {"type": "integer", "minimum": 1},
        "state": {"type": "string", "enum": ["offered", "downloading", "verified", "switched",
                                             "confirmed", "rolled_back", "failed",
                                             "superseded"]},
        "reason": NSTR, "done": NINT, "total": NINT, "crash": NSTR, "offered_at": INT,
        "updated_at": INT}}
FIRMWARE = {"type": "object", "required": ["releases", "kiosks"], "properties": {
    "releases": {"type": "array", "items": {"type": "object", "required": [
        "version", "created", "mpy", "min_mp", "bytes", "files", "confirmed", "states"],
        "properties": {"version": {"type": "string"}, "created": INT, "mpy": {"type": "string"},
                       "min_mp": {"type": "string"}, "bytes": INT, "files": INT,
                       "notes": NSTR, "confirmed": INT, "states": COUNTS}}},
    "kiosks": {"type": "array", "items": {"type": "object", "required": [
        "id", "district", "online", "fw", "update_key", "update"], "properties": {
        "id": {"type": "string"}, "district": NSTR, "online": {"type": "boolean"},
        "fw": NSTR, "last_seen": NINT, "update_key": {"type": "boolean"},
        "update": FW_UPDATE}}}}}


def _get(summary, params, schema, public=False, content="application/json", desc=""):
    op = {"summary": summary, "description": desc, "parameters": params, "responses": {
        "200": {"description": "OK", "content": {content: {"schema": schema}}},
        "400": {"description": "Bad parameter", "content": {
            "application/json": {"schema": ERROR}}}}}
    if not params:
        del op["responses"]["400"]
    if public:
        op["security"] = []
    else:
        op["responses"]["401"] = {"description": "No staff session or token",
                                  "content": {"application/json": {"schema": ERROR}}}
    return {"get": op}


def spec():
    grid = {"type": "array", "minItems": 7, "maxItems": 7,
            "items": {"type": "array", "minItems": 24, "maxItems": 24,
                      "items": {"type": "number", "nullable": True}}}
    overview = {"allOf": [SUMMARY, {"type": "object", "required": [
        "today", "this_week", "trend", "timezone"], "properties": {
        "today": INT, "this_week": INT, "timezone": {"type": "string"},
        "trend": {"type": "object", "required": ["bucket", "points"], "properties": {
            "bucket": {"type": "string", "enum": ["day", "week", "month"]},
            "points": {"type": "array", "items": {"type": "object", "required": [
                "start", "taps", "mood_count", "mood_index"]}}}}}}]}
    paths = {
        "/summary": _get("Totals, mood and skills", FILTERS, SUMMARY,
                         desc="mood.index is null when there are no mood taps."),
        "/overview": _get("Overview page data", FILTERS, overview),
        "/districts": _get("Districts side by side", FILTERS, {
            "type": "object", "required": ["districts"], "properties": {"districts": {
                "type": "array", "items": {"type": "object", "required": [
                    "district", "taps", "per_1000", "mood", "skills", "asks_least"]}}}}),
        "/kiosks": _get("Kiosks and their health", [P_DISTRICT, P_KIOSK],
                        {"type": "array", "items": KIOSK}),
        "/heatmap": _get("Weekday x hour of day (city time)", FILTERS, {
            "type": "object", "required": ["taps", "mood_index", "timezone"],
            "properties": {"taps": grid, "mood_index": grid, "mood_count": grid}}),
        "/questions": _get("Results per question and where it was sent", FILTERS, {
            "type": "object", "required": ["questions"], "properties": {"questions": {
                "type": "array", "items": {"type": "object", "required": [
                    "id", "count", "by_value", "index", "districts", "pushed_to"]}}}}),
        "/firmware": _get("Firmware releases and each kiosk's running version and update "
                          "state", [P_DISTRICT], FIRMWARE,
                          desc="update is the kiosk's latest offer (null: never offered); "
                               "crash is the crash line that rolled a trial back."),
        "/alerts": _get("Open and past alerts", [], {
            "type": "object", "required": ["open", "past", "thresholds"]}),
        "/users": _get("Staff accounts (admin)", [], {"type": "array"}),
        "/export.csv": _get("Every tap, one per line, with a header row", FILTERS,
                            {"type": "string"}, content="text/csv"),
        "/export.json": _get("Every tap as JSON", FILTERS, {
            "type": "object", "required": ["columns", "taps"]}),
        "/open/summary": _get("Open data by district for one month (public; every count "
                              "rounded to a multiple of the threshold)", [P_MONTH],
                              OPEN_SUMMARY, public=True),
        "/open/summary.csv": _get("Open data as CSV (public)", [P_PERIOD],
                                  {"type": "string"}, public=True, content="text/csv"),
        "/open/catalog": _get("DCAT-AP description of the open data (public, JSON-LD)", [],
                              {"type": "object", "required": ["@context", "@type",
                                                              "dcat:dataset"]},
                              public=True, content="application/ld+json"),
        "/open/ngsi-ld": _get("Open data as NGSI-LD KeyPerformanceIndicator entities (public)",
                              [P_PERIOD], {"type": "array", "items": {
                                  "type": "object", "required": ["id", "type", "kpiValue",
                                                                 "@context"]}},
                              public=True, content="application/ld+json"),
    }
    paths["/users"]["get"]["responses"]["403"] = {
        "description": "Not an admin", "content": {"application/json": {"schema": ERROR}}}
    paths["/questions"]["post"] = {
        "summary": "Create a question and send it to kiosks/districts (admin)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["text"], "properties": {
                "id": {"type": "string", "pattern": "^([a-z0-9][a-z0-9_.-]{0,63})?$",
                       "nullable": True},
                "text": {"type": "object", "required": ["en"], "properties": {
                    "en": {"type": "string", "minLength": 1, "maxLength": 280,
                           "pattern": "\\S"},
                    "nl": {"type": "string", "maxLength": 280, "nullable": True}}},
                "kiosks": {"type": "array", "items": {"type": "string"}, "nullable": True},
                "districts": {"type": "array", "items": {"type": "string"},
                              "nullable": True}}}}}},
        "responses": {"201": {"description": "Created"},
                      "400": {"description": "Refused", "content": {
                          "application/json": {"schema": ERROR}}},
                      "401": {"description": "No staff session or token"},
                      "403": {"description": "Not an admin", "content": {
                          "application/json": {"schema": ERROR}}}}}
    paths["/alerts/{alert_id}/ack"] = {"post": {
        "summary": "Acknowledge an open alert",
        "parameters": [{"name": "alert_id", "in": "path", "required": True,
                        "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "Acknowledged"},
                      "401": {"description": "No staff session or token"},
                      "404": {"description": "No such unacknowledged alert", "content": {
                          "application/json": {"schema": ERROR}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Civic kiosk hub API", "version": "1",
                 "description": "Staff API of the civic kiosk hub. Send a staff session "
                                "cookie or 'Authorization: Bearer TOKEN' (civic token "
                                "create). /open/... is public."},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }


@twins.get("/openapi.json")
def openapi_json():
    return jsonify(spec())
