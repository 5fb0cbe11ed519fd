"""The dialect contract is declared, not imported: each dialect's ``Dialect`` entry is the one place
saying what it brings (its tables and migrations, covered tables, hook listeners, consent lookup,
background loops, blueprints, pages, CLI), the core's component is ``consent.core.schema.CORE``,
and importing a module registers nothing. A table, listener, loop, blueprint or command a dialect
package defines but its entry forgets fails here, by name."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import flask
import flask_smorest
import peewee
import pytest
from werkzeug.local import LocalProxy

from consent import dialects
from consent.core import background, components, covered, hooks, usage
from consent.core.schema import CORE

ROOT = Path(__file__).resolve().parent.parent

# Tables of the core that its component does not list, and why.
CORE_NOT_IN_COMPONENT = {"schema_migration"}   # migrate's own record, made by upgrade itself
# Tables with an audit_seq column that are not covered tables, and why.
POINTER_NOT_COVERED = {"consent"}   # checked against its record hash (consent.core.verify)


def modules_of(package: str) -> list:
    """The package and every module under it, imported."""
    root = importlib.import_module(package)
    found = [root]
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), package + "."):
        found.append(importlib.import_module(info.name))
    return found


def home(value) -> str | None:
    """The module that made an object (None: cannot tell)."""
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__module__
    if isinstance(value, flask.Blueprint):
        return value.import_name
    if isinstance(value, background.Loop):
        return getattr(value.step, "__module__", None)
    if isinstance(value, click.Command) and value.callback is not None:
        return getattr(value.callback, "__module__", None)
    return None


def defined(modules, kind) -> list:
    """The module-level objects of ``kind`` (a type, or a predicate) the modules define
    (an object made elsewhere and imported is not theirs)."""
    names = {module.__name__ for module in modules}
    out = []
    for module in modules:
        for value in vars(module).values():
            if type(value) is LocalProxy:   # current_app and the like: nothing to declare
                continue
            test = kind(value) if not isinstance(kind, type) else isinstance(value, kind)
            if test and home(value) in names | {None} and all(value is not o for o in out):
                out.append(value)
    return out


def _is_model(value) -> bool:
    return (inspect.isclass(value) and issubclass(value, peewee.Model)
            and value.__name__ != "BaseModel")


def _commands_under(commands) -> list:
    out = []
    for command in commands:
        out.append(command)
        if isinstance(command, click.Group):
            out.extend(_commands_under(command.commands.values()))
    return out


def undeclared(dialect, package: str) -> list[str]:
    """What the dialect's package defines and its entry does not declare."""
    modules = modules_of(package)
    problems = []
    schema = dialect.schema
    models = defined(modules, _is_model)
    declared_models = schema.models if schema is not None else []
    for model in models:
        if model not in declared_models:
            problems.append(f"table {model._meta.table_name} ({model.__name__}) is not in "
                            "DIALECT.schema")
    covered_models = {entry.model for entry in (schema.covered if schema else ())}
    for model in declared_models:
        if covered.POINTER in model._meta.fields and model not in covered_models:
            problems.append(f"table {model._meta.table_name} has {covered.POINTER} but is not "
                            "a covered table of DIALECT.schema")
    for loop in defined(modules, background.Loop):
        if loop not in dialect.loops:
            problems.append(f"background loop {loop.name!r} is not in DIALECT.loops")
    for blp in defined(modules, flask_smorest.Blueprint):
        if blp not in dialect.blueprints:
            problems.append(f"API blueprint {blp.name!r} is not in DIALECT.blueprints")
    for page in defined(modules, flask.Blueprint):
        if not isinstance(page, flask_smorest.Blueprint) and page not in dialect.pages:
            problems.append(f"page blueprint {page.name!r} is not in DIALECT.pages")
    for fn in defined(modules, lambda v: inspect.isfunction(v) and hasattr(v, "hook_event")):
        if (fn.hook_event, fn) not in dialect.subscriptions:
            problems.append(f"hook listener {fn.__name__} ({fn.hook_event}) is not in "
                            "DIALECT.subscriptions")
    for fn in defined(modules, lambda v: inspect.isfunction(v) and getattr(v, "is_consent_lookup", False)):
        if dialect.consent_lookup is not fn:
            problems.append(f"consent lookup {fn.__name__} is not DIALECT.consent_lookup")
    reachable = _commands_under(dialect.cli_commands)
    for command in defined(modules, click.Command):
        if command not in reachable:
            problems.append(f"CLI command {command.name!r} is not reachable from "
                            "DIALECT.cli_commands")
    return problems


ENTRIES = [(name, importlib.import_module(name).DIALECT) for name in dialects.names()]


@pytest.mark.parametrize("package,dialect", ENTRIES, ids=[d.name for _, d in ENTRIES])
def test_each_entry_declares_what_its_package_defines(package, dialect):
    assert undeclared(dialect, package) == []


def test_a_forgotten_declaration_is_named():
    """The check above is live: an entry that forgets its tables, listeners and lookup is
    told so, table by table."""
    entry = importlib.import_module("consent.dialects.attestr").DIALECT
    forgetful = dataclasses.replace(entry, schema=None, subscriptions=(), consent_lookup=None,
                                    loops=())
    problems = undeclared(forgetful, "consent.dialects.attestr")
    assert "table attestr_consent (AttestrConsent) is not in DIALECT.schema" in problems
    assert "hook listener on_withdrawn (consent.withdrawn) is not in DIALECT.subscriptions" \
        in problems
    assert "consent lookup ledger_id is not DIALECT.consent_lookup" in problems
    assert "background loop 'attestr-worker' is not in DIALECT.loops" in problems


def test_the_core_declares_every_table_it_defines(app):
    modules = modules_of("consent.core")
    models = defined(modules, _is_model)
    missing = [m._meta.table_name for m in models
               if m not in CORE.models and m._meta.table_name not in CORE_NOT_IN_COMPONENT]
    assert missing == []
    covered_models = {entry.model for entry in CORE.covered}
    uncovered = [m._meta.table_name for m in CORE.models
                 if covered.POINTER in m._meta.fields and m not in covered_models
                 and m._meta.table_name not in POINTER_NOT_COVERED]
    assert uncovered == []


def test_every_loop_anywhere_runs_in_the_app(app):
    runner = app.extensions["consent.background"]
    loops = defined(modules_of("consent"), background.Loop)
    assert loops and all(loop in runner.loops for loop in loops), (loops, runner.loops)


def test_an_app_installs_exactly_its_entries(app):
    entries = dialects.entries()
    # the core, control mode's tables (always, on or off), then each dialect's
    assert [c.name for c in components.installed()] == ["core"] + sorted(
        ["control"] + [d.name for d in entries if d.schema is not None])
    want = {e.table for c in components.installed() for e in c.covered}
    assert {e.table for e in covered.tables()} == want
    for event in hooks.EVENTS:
        assert list(hooks._listeners[event]) == [fn for d in entries
                                                 for name, fn in d.subscriptions if name == event]
    assert list(usage._lookups) == [d.consent_lookup for d in entries if d.consent_lookup]


IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import consent
for info in pkgutil.walk_packages(consent.__path__, "consent."):
    importlib.import_module(info.name)
from consent.core import components, covered, database, hooks, migrate, usage
database.init_database("sqlite:///" + sys.argv[1])

def lookups():
    if usage._lookups is None:
        raise components.NotDeclared("consent lookups")

out = {}
for name, call in (("components", components.installed), ("covered", covered.tables),
                   ("migrate", migrate.status), ("upgrade", migrate.upgrade),
                   ("hooks", lambda: hooks.emit(hooks.USED)), ("lookups", lookups)):
    try:
        call()
        out[name] = "answered"
    except components.NotDeclared as exc:
        out[name] = str(exc)
print(json.dumps(out))
"""


def test_importing_every_module_registers_nothing(tmp_path):
    """In a fresh interpreter that imports every module of the service and creates no app,
    nothing is installed: what needs the whole schema (migrate, verify), the hooks and the
    consent lookups refuse to run on a partial declaration instead of silently missing a
    dialect's part."""
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING, str(tmp_path / "db.sqlite3")],
                          cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=120)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(out) == {"components", "covered", "migrate", "upgrade", "hooks", "lookups"}
    for name, answer in out.items():
        assert answer.startswith("no ") and "declared in this process" in answer, (name, answer)
