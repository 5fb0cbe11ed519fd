"""``flask --app app export``: the ledger export to a file or stdout."""
from __future__ import annotations

import sys

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
@click.option("--output", "-o", type=click.File("w"), default="-")
def export_cli(slug, fmt, output):
    """Export every consent (progress bar on a terminal)."""
    org = org_or_fail(slug)
    total = ledger.count_consents(org)
    with tqdm(total=total, unit="consent", disable=not sys.stderr.isatty(),
              file=sys.stderr) as bar:
        for chunk in exports.lines(org, fmt):
            output.write(chunk)
            bar.update(chunk.count("\n") if fmt == "jsonl" else 0)
        if fmt == "csv":
            bar.update(total - bar.n)
