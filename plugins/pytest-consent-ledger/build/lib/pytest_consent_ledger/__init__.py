"""pytest-consent-ledger: the Consent Ledger as a stub in a client project's tests.

The ``consent_ledger`` fixture (session-scoped) starts the service from a checkout in a
subprocess on a free loopback port with a fresh database, or connects to one already running
(``CONSENT_LEDGER_URL``), and yields a :class:`~.client.Ledger`: the base URL, each dialect's
credentials (``seed-demo --json``) and helpers for reset, the clock, faults and the request
journal. Standard library only."""
from .client import ControlError, Ledger

__all__ = ["ControlError", "Ledger"]
__version__ = "0.1.0"
