"""Every JSON response the test suite receives is checked against the service's own OpenAPI
document (openapi-core): its status must be documented for that operation, and its body must
match the documented schema. Pages, other media and URLs that are no operation are left alone."""
from __future__ import annotations

import json

from flask.testing import FlaskClient
from werkzeug.wrappers import Request
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)

_specs: dict[str, OpenAPI] = {}
_documents: dict[int, str] = {}


def spec_for(app) -> OpenAPI:
    """The app's /openapi.json, parsed once per distinct document."""
    text = _documents.get(id(app))
    if text is None:
        text = _documents[id(app)] = FlaskClient(app).get("/openapi.json").get_data(as_text=True)
    found = _specs.get(text)
    if found is None:
        found = _specs[text] = OpenAPI.from_dict(json.loads(text))
    return found


def check_response(app, response) -> None:
    """Raise AssertionError when a response departs from the document."""
    if response.mimetype != "application/json" or response.request is None:
        return  # pages, Swagger UI's assets, and the streamed export (JSON Lines, CSV)
    request = response.request
    # Only the method and URL locate the operation; the body was consumed by the app.
    # request.path is decoded: a "?" or "#" in a path segment (a subject) is escaped again.
    path = request.path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")
    located = Request.from_values(path=path,
                                  query_string=request.query_string.decode("latin-1"),
                                  method=request.method, base_url=request.host_url)
    try:
        spec_for(app).validate_response(WerkzeugOpenAPIRequest(located),
                                        WerkzeugOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound, ServerNotFound):
        return  # a page, /openapi.json, /docs, or a method the path does not have
    except Exception as exc:  # noqa: BLE001 - any departure fails the test, with its reason
        details = "; ".join(str(e) for e in getattr(exc, "schema_errors", []) or [])
        raise AssertionError(
            f"{request.method} {request.path} answered {response.status_code} outside its "
            f"OpenAPI description: {exc!r} {details}\nbody: {response.get_data()[:500]!r}"
        ) from None


class ContractClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_response(self.application, response)
        return response
