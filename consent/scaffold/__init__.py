"""``flask --app app dialect new NAME``: a new dialect package with the files every dialect has,
working from the first run, as moto scaffolds a service (README, "Adding a dialect, file by
file").

It writes ``consent/dialects/NAME/`` (``__init__.py`` with ``DIALECT``, ``models.py``,
``queries.py``, ``service.py``, ``errors.py``, ``routes.py``, ``cli.py``, ``testing.py``: what
the shared tests and bench need), ``schemas/NAME.py`` and ``tests/test_NAME.py``: a small
consent API at ``/NAME/v1`` (record a decision, read it back) with its own table, covered by the
audit chain, its own error shape, a CLI command, a seed-demo section, and tests that pass. The
only shared file left to edit is ``consent/dialects/__init__.py``: one line in ``REGISTRY``.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

import click
from flask.cli import AppGroup

TEMPLATES = Path(__file__).resolve().parent / "templates"
ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^[a-z][a-z0-9]{1,23}$")

# template -> where it goes, relative to the repository's root
FILES = {
    "__init__.py.tmpl": "consent/dialects/{name}/__init__.py",
    "models.py.tmpl": "consent/dialects/{name}/models.py",
    "queries.py.tmpl": "consent/dialects/{name}/queries.py",
    "service.py.tmpl": "consent/dialects/{name}/service.py",
    "errors.py.tmpl": "consent/dialects/{name}/errors.py",
    "routes.py.tmpl": "consent/dialects/{name}/routes.py",
    "cli.py.tmpl": "consent/dialects/{name}/cli.py",
    "testing.py.tmpl": "consent/dialects/{name}/testing.py",
    "schemas.py.tmpl": "schemas/{name}.py",
    "test.py.tmpl": "tests/test_{name}.py",
}


class ScaffoldError(ValueError):
    pass


# Names a dialect may not take besides the registered ones: the service's own URL segments and
# packages, and what would shadow a module of the tree.
RESERVED = {"core", "web", "service", "scaffold", "testing", "docs", "static", "api",
            "healthz", "readyz", "common", "laravel", "operators", "helpers", "conftest"}


def problem(name: str, root: Path, commands=()) -> str | None:
    """Why ``name`` cannot be a new dialect under ``root`` (None: it can). ``commands``: the
    CLI's top-level command names (the dialect's command group takes its name)."""
    from consent import dialects

    if not NAME.match(name) or keyword.iskeyword(name):
        return (f"{name!r} is not a dialect name: 2 to 24 lower-case letters and digits, "
                "starting with a letter")
    if f"consent.dialects.{name}" in dialects.REGISTRY:
        return f"{name!r} is already a registered dialect"
    if name in RESERVED:
        return f"{name!r} is reserved (the service's own name for something else)"
    if name in set(commands):
        return f"{name!r} is taken: `flask --app app {name}` is already a command"
    # (``owns`` claims are left out: they are organisations' slugs, looked up in a database
    # this command never needs, and a route of the new dialect's wins over them.)
    path = f"/{name}/v1/consents"
    for entry in dialects.entries():
        if any(path.startswith(prefix) for prefix in entry.prefixes):
            return f"{name!r} is taken: dialect {entry.name} answers URLs under /{name}/"
    package = root / "consent" / "dialects" / name
    if package.exists():
        return f"consent/dialects/{name}/ already exists (remove it, or pick another name)"
    taken = [target for target in (FILES[t].format(name=name) for t in FILES)
             if (root / target).exists()]
    if taken:
        return f"{', '.join(taken)} already exist (remove them, or pick another name)"
    return None


def write(name: str, root: Path = ROOT, commands=()) -> list[Path]:
    """Write the new dialect's files under ``root``; returns them. Nothing is written when the
    name is refused (ScaffoldError, saying why), and nothing is ever overwritten."""
    root = Path(root)
    why = problem(name, root, commands)
    if why:
        raise ScaffoldError(why)
    values = {"name": name, "Name": name.capitalize(), "title": name.capitalize(),
              "table": f"{name}_consent"}
    written = []
    for template, target in FILES.items():
        path = root / target.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Template((TEMPLATES / template).read_text()).substitute(values)
        path.write_text(text)
        written.append(path)
    return written


dialect_cli = AppGroup("dialect", help="Dialect packages (the APIs this service speaks).")


@dialect_cli.command("new")
@click.argument("name")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=ROOT,
              show_default="this repository", help="The repository to write into.")
@click.pass_context
def new(ctx, name, root):
    """Write a new dialect package NAME that works and passes its tests; then add its line to
    REGISTRY in consent/dialects/__init__.py."""
    top = ctx.find_root()
    try:
        written = write(name, root, commands=top.command.list_commands(top))
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path.relative_to(root)}")
    click.echo(f'\nNext: add "consent.dialects.{name}" to REGISTRY in '
               "consent/dialects/__init__.py, then `make test` "
               f"(tests/test_{name}.py, and every shared test now covers it).")
