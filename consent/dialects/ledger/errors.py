"""The ledger API's errors: this service's own shape, ``{code, status, message[, errors]}``
(flask-smorest's), shared with every dialect's operator API."""
from consent.web.dialect import SERVICE_ERRORS as ERRORS

__all__ = ["ERRORS"]
