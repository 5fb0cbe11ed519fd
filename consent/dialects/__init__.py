"""The API dialects this service speaks. Adding one means one package here (``flask --app app
dialect new NAME`` writes it), one schemas module, and one line in ``REGISTRY``.

Each package's ``DIALECT`` (``consent.web.dialect.Dialect``) says everything it brings;
:func:`declare` installs the core parts of every entry (their tables, migrations, covered tables,
hook subscriptions, consent lookups) and ``create_app`` registers their blueprints, pages, CLI and
loops. A script that uses the database without an app calls :func:`declare` first.
"""
from __future__ import annotations

import importlib

REGISTRY = (
    "consent.dialects.ledger",
    "consent.dialects.truconsent",
    "consent.dialects.veriff",
    "consent.dialects.avacy",
    "consent.dialects.attestr",
    # not an API: the operator console's pages, tables and CLI join through the same entry
    "consent.console",
)


def names() -> tuple[str, ...]:
    """The registered dialects' module names, in order."""
    return REGISTRY


def entries() -> tuple:
    """Every registered dialect's entry (``Dialect``), in registry order."""
    return tuple(importlib.import_module(name).DIALECT for name in names())


def declare() -> tuple:
    """Install the core parts of every registered dialect for this process (see the module's
    docstring); returns the entries."""
    from consent.web.dialect import install

    dialects = entries()
    install(dialects)
    return dialects
