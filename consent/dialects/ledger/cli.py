"""``flask --app app export``: the ledger export to a file or stdout.

A file is written owner-only (0600), like the database: whole to a new temporary file of mode
0600 beside it, then renamed over the path, so at no moment is the export readable by others, and
an export that fails leaves no partial file (and an older file at the path as it was)."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from consent.cli import org_or_fail
from consent.core import ledger

from . import export as exports


@click.command("export")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.option("--format", "fmt", default="jsonl", type=click.Choice(sorted(exports.MIMETYPES)))
@click.option("--output", "-o", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help="A file (created or replaced, mode 0600), or - for stdout.")
def export_cli(slug, fmt, output):
    """Export every consent (progress bar on a terminal)."""
    org = org_or_fail(slug)
    total = ledger.count_consents(org.id)
    with owner_only(output) as out, tqdm(total=total, unit="consent",
                                         disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        for chunk in exports.lines(org, fmt):
            out.write(chunk)
            bar.update(chunk.count("\n") if fmt == "jsonl" else 0)
        if fmt == "csv":
            bar.update(total - bar.n)


@contextlib.contextmanager
def owner_only(path: str):
    """A text stream to ``path``, which appears (mode 0600) only once it is complete; ``-`` is
    stdout. A path that exists and is not a regular file (a FIFO, a device) is written as is."""
    if path == "-":
        yield sys.stdout
        return
    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        with open(target, "w", encoding="utf-8") as stream:
            yield stream
        return
    fd, tmp = tempfile.mkstemp(prefix=".export.", dir=os.path.dirname(target))  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
