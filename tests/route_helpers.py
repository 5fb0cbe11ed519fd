"""Every route of an app as a request a client could send (for the tests that check how every
route answers: an old schema, a database that does not answer)."""
from __future__ import annotations

import uuid

from werkzeug.routing import IntegerConverter, UUIDConverter

# Routes that answer without the database: the probes' liveness half and the API documents.
NO_DATABASE = ("/healthz", "/openapi.json", "/docs")


def every_route(app):
    """(method, path) of every route of ``app``, its arguments filled in with plain values."""
    adapter = app.url_map.bind("consent.test")
    for rule in app.url_map.iter_rules():
        values = {name: (1 if isinstance(converter, IntegerConverter) else
                         uuid.uuid4() if isinstance(converter, UUIDConverter) else "demo")
                  for name, converter in rule._converters.items()}
        path = adapter.build(rule.endpoint, values, force_external=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path
