"""The API dialects this service speaks. Adding one means one package here, one schemas module,
and one entry in ``REGISTRY``."""
from __future__ import annotations

REGISTRY = (
    "consent.dialects.ledger",
    "consent.dialects.truconsent",
    "consent.dialects.veriff",
    "consent.dialects.avacy",
    "consent.dialects.attestr",
)
