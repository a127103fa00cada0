"""GET /api/v1/openapi.json: the OpenAPI 3 description of the API (filled in below)."""
from flask import jsonify

from hub.api import bp


@bp.get("/openapi.json")
def openapi_json():
    from hub.openapi_spec import spec
    return jsonify(spec())
