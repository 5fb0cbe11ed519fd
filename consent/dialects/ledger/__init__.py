"""The ledger's own API, /ledger/v1: record, list, withdraw, state, audit, verify, export, the
organisation's operators (members and their session tokens, :mod:`.operators`), and people's
rights (erasure, the access report, rights requests, retention: :mod:`.people`).

Every call takes an admin API key (``X-API-Key``) and its organisation (``X-Org-Id``); errors
are this service's own shape, ``{code, status, message[, errors]}``."""
from flask import Blueprint

from consent.control.store import Stub
from consent.core import retention
from consent.web.auth import ADMIN_KEY
from consent.web.dialect import Dialect

from . import people  # noqa: F401  (its routes: erasure, report, rights requests, retention)
from .cli import export_cli
from .errors import ERRORS
from .operators import blp as operators_blp
from .people_cli import retention_cli, rights_cli, subject_cli
from .routes import blp

# The templates of the subject report's page (no routes of its own).
templates = Blueprint("ledger_templates", __name__, template_folder="templates")

DIALECT = Dialect(name="ledger", errors=ERRORS, prefixes=("/ledger/",), unmatched_auth=ADMIN_KEY,
                  blueprints=(blp, operators_blp), pages=(templates,),
                  cli_commands=(export_cli, subject_cli, rights_cli, retention_cli),
                  # control mode: a moved clock applies the retention policy under it
                  stub=Stub(clock_moved=lambda org_id: retention.run_org(org_id)),
                  # its API, its CLI, and the withdrawals erasure and retention make
                  sources=("ledger", "cli", "erasure", "retention"))
