"""The console's views, one module each; importing one adds its routes to the blueprint."""
from __future__ import annotations

import importlib

MODULES = ("signin", "overview", "consents", "audit", "webhooks", "credentials", "providers",
           "providers_truconsent", "providers_veriff", "providers_avacy", "providers_attestr",
           "rights")


def load() -> None:
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
