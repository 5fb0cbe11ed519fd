"""The ledger's own API, /ledger/v1: record, list, withdraw, state, audit, verify, export."""
from consent.dialects import base

from .routes import blp

DIALECT = base.Dialect(name="ledger", prefixes=("/ledger/",), render_error=base.default_error,
                       blueprint_names=(blp.name,))


def init_app(app, api):
    api.register_blueprint(blp)
    base.register(DIALECT)
