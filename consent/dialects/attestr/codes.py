"""Attestr's documented error table, and the exception the dialect's services raise with it.

No Flask here (services import it); :mod:`.errors` renders these in Attestr's shape.
"""
from __future__ import annotations

from dataclasses import dataclass

from consent.core.errors import DomainError


@dataclass(frozen=True)
class Code:
    status: int
    code: int
    message: str


# The table of Attestr's documentation, exactly.
MALFORMED = Code(400, 4001, "Malformed data or missing required parameter values")
LOW_CREDITS = Code(400, 4005, "Operation could not be performed due to low credits balance")
INVALID_CLIENT = Code(401, 4016, "Invalid client authorization")
UNAUTHORIZED = Code(403, 4031, "Unauthorized access")
NOT_PROVISIONED = Code(403, 4035, "Requested service is not provisioned for your account")
IP_NOT_ALLOWED = Code(403, 4039, "Client's IP address is not whitelisted")
ACCOUNT_RATE = Code(429, 4291, "Maximum account rate limit exceeded")
API_RATE = Code(429, 4292, "Maximum API rate limit exceeded")
ACCOUNT_DAILY = Code(429, 4293, "Maximum account daily limit exceeded")
API_DAILY = Code(429, 4294, "Maximum API daily limit exceeded")
SERVER = Code(500, 5001, "Request could not be processed")
# What the table does not cover (this service's codes, in the same style).
NOT_FOUND = Code(404, 4041, "Requested resource not found")
METHOD_NOT_ALLOWED = Code(405, 4051, "Method not allowed")
TOO_LARGE = Code(413, 4131, "Request body too large")
UNAVAILABLE = Code(503, 5031, "Service temporarily unavailable")

DOCUMENTED = (MALFORMED, LOW_CREDITS, INVALID_CLIENT, UNAUTHORIZED, NOT_PROVISIONED,
              IP_NOT_ALLOWED, ACCOUNT_RATE, API_RATE, ACCOUNT_DAILY, API_DAILY, SERVER)
OWN = (NOT_FOUND, METHOD_NOT_ALLOWED, TOO_LARGE, UNAVAILABLE)
BY_MESSAGE = {c.message: c for c in DOCUMENTED + OWN}
BY_STATUS = {400: MALFORMED, 401: INVALID_CLIENT, 403: UNAUTHORIZED, 404: NOT_FOUND,
             405: METHOD_NOT_ALLOWED, 413: TOO_LARGE, 429: ACCOUNT_RATE, 500: SERVER,
             503: UNAVAILABLE}


class AttestrError(DomainError):
    """An error in Attestr's table: ``details`` (optional) explains it; ``retry_after``
    (seconds) goes out as ``Retry-After`` on a 429."""

    def __init__(self, code: Code, details: str | None = None, retry_after: int | None = None):
        super().__init__(code.message)
        self.error = code
        self.error_details = details
        self.retry_after = retry_after
