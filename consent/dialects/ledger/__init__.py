"""The ledger's own API, /ledger/v1: record, list, withdraw, state, audit, verify, export, and
the organisation's operators (members and their session tokens, :mod:`.operators`).

Every call takes an admin API key (``X-API-Key``) and its organisation (``X-Org-Id``); errors
are this service's own shape, ``{code, status, message[, errors]}``."""
from consent.web.auth import ADMIN_KEY
from consent.web.dialect import Dialect

from .cli import export_cli
from .errors import ERRORS
from .operators import blp as operators_blp
from .routes import blp

DIALECT = Dialect(name="ledger", errors=ERRORS, prefixes=("/ledger/",), unmatched_auth=ADMIN_KEY,
                  blueprints=(blp, operators_blp), cli_commands=(export_cli,))
