"""The parts of the schema this process serves: the core and each dialect, each a
:class:`Component` with its tables, the migrations that lead an older database to their shape
(``consent.core.migrate``), and which of its tables the audit chain covers
(``consent.core.covered``).

A component is *declared*, never registered by importing a module: the core's is
``consent.core.schema.CORE``, each dialect's is the ``schema`` of its ``Dialect`` entry
(``consent.web.dialect``). :func:`install` makes a set of them the process's schema; the app
factory does it from the dialect registry (``consent.dialects.declare``), and so must any
script that uses the database without an app. Until then :func:`installed` raises
:class:`NotDeclared`: migrate, status and verify never run on a partial list of tables.
"""
from __future__ import annotations

from typing import Iterable


class NotDeclared(RuntimeError):
    """What the process serves (its tables, hooks, lookups) was never declared."""

    def __init__(self, what: str):
        super().__init__(f"no {what} declared in this process: create_app declares them from "
                         "the dialect registry (a script without an app calls "
                         "consent.dialects.declare() first)")


class Component:
    """A part of the schema with versions of its own: the core, or a dialect. ``models``
    describe its latest shape; ``migrations`` (``consent.core.schema.Migration``, versions
    1..n) lead an existing database there; ``covered``: its covered tables
    (``consent.core.covered.cover(...)`` of some of its models); ``fill``: what its tables
    take from other components' rows when they are created on an existing database (a
    read model, such as the console's daily counts)."""

    def __init__(self, name: str, models: Iterable = (), migrations: Iterable = (),
                 covered: Iterable = (), fill=None):
        self.name = name
        # ``fill(schema)``: what its tables take from the rows already there when they are
        # created on a database that has other components' rows (a component added since)
        self.fill = fill
        self.models: list = []
        for model in models:
            if model not in self.models:
                self.models.append(model)
        self.migrations: list = []
        for migration in migrations:
            if migration.version != len(self.migrations) + 1:
                raise ValueError(f"{name}: migration {migration.version} out of order")
            self.migrations.append(migration)
        self.covered: tuple = tuple(covered)
        for entry in self.covered:
            if entry.model not in self.models:
                raise ValueError(f"{name}: covered table {entry.table} is not one of its models")

    @property
    def latest(self) -> int:
        return len(self.migrations)

    def __repr__(self) -> str:
        return f"Component({self.name!r}, version {self.latest})"


_installed: dict[str, Component] | None = None


def install(components: Iterable[Component]) -> None:
    """Make these components the process's schema (replacing what was installed), and their
    covered tables the ones the audit chain covers. Two components may not share a name or a
    table."""
    from . import covered

    by_name: dict[str, Component] = {}
    tables: dict[str, str] = {}
    for component in components:
        if component.name in by_name:
            raise ValueError(f"two components named {component.name!r}")
        by_name[component.name] = component
        for model in component.models:
            table = model._meta.table_name
            if tables.setdefault(table, component.name) != component.name:
                raise ValueError(f"table {table!r} declared by {tables[table]} and "
                                 f"{component.name}")
    covered.install([entry for c in by_name.values() for entry in c.covered])
    global _installed
    _installed = by_name


def installed() -> list[Component]:
    """Every component of the process's schema, the core first (:class:`NotDeclared` when none
    was installed)."""
    if _installed is None:
        raise NotDeclared("schema components")
    return sorted(_installed.values(), key=lambda c: (c.name != "core", c.name))


def get(name: str) -> Component:
    return next(c for c in installed() if c.name == name)


def all_models() -> list:
    return [model for component in installed() for model in component.models]
