"""``flask --app app audit checkpoint|checkpoints|export|key``: signed checkpoints of the audit
chain, its export for the standalone verifier, and the signing key (``consent.core.checkpoints``,
``consent.core.signing``). ``audit verify --checkpoint FILE`` (in ``consent.cli``) calls
:func:`verify_checkpoints`."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from consent.cli import fail, org_or_fail
from consent.core import checkpoints


def verify_checkpoints(paths) -> int:
    """Print a line per checkpoint (failures on stderr); returns how many failed."""
    failed = 0
    for ok, line in checkpoints.verify_files(paths):
        click.echo(line, err=not ok)
        failed += not ok
    return failed


@click.command("checkpoint")
@click.option("--org", "slug", required=True)
def audit_checkpoint(slug):
    """Print a signed checkpoint of the organisation's current head (JSON), as
    GET /ledger/v1/audit/checkpoint answers it."""
    click.echo(json.dumps(checkpoints.issue(org_or_fail(slug).id, origin="cli").as_dict()))


@click.command("checkpoints")
@click.option("--org", "slug", required=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
def audit_checkpoints(slug, limit):
    """List the checkpoints issued, newest first (JSON Lines, with who asked first and whether
    the schedule sent it to the witnesses)."""
    for row in checkpoints.listing(org_or_fail(slug).id, limit):
        click.echo(json.dumps(checkpoints.describe(row)))


@click.command("export")
@click.option("--org", "slug", required=True)
@click.option("--output", "-o", "output", default="-", metavar="FILE",
              help="Written whole, owner-only (0600); - for standard output.")
def audit_export(slug, output):
    """Export the organisation's audit chain (JSON Lines: every field each hash covers, and the
    hash) for the standalone verifier, python -m auditchain."""
    org = org_or_fail(slug)
    if output == "-":
        for line in checkpoints.export_lines(org.id):
            sys.stdout.write(line)
        return
    try:
        count = checkpoints.write_export(org.id, output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"{count} events of {org.slug} ({org.id}) written to {output}", err=True)


key_cli = AppGroup("key", help="The key that signs checkpoints (Ed25519).")


@key_cli.command("show")
@click.option("--all", "every", is_flag=True,
              help="Every public key the installation has had, retired ones too.")
def key_show(every):
    """Print the public key that signs checkpoints (PEM), made if there is none yet: hand it to
    whoever verifies. The private key is never printed."""
    store = checkpoints.store()
    current_id, _ = store.current()
    for info in store.keys():
        if every or info["key_id"] == current_id:
            click.echo(info["public_key"], nl=False)


@key_cli.command("list")
def key_list():
    """Every key (JSON Lines): id, creation, retirement, and which one signs now."""
    for info in checkpoints.store().keys():
        click.echo(json.dumps({k: info[k] for k in ("key_id", "algorithm", "created_at",
                                                    "retired_at", "current")}))


@key_cli.command("rotate")
def key_rotate():
    """Make a new signing key and retire the current one (its public key stays known, so the
    checkpoints it signed still verify; its private key is deleted)."""
    old, new = checkpoints.store().rotate()
    click.echo(f"checkpoints are signed with key {new} now"
               + (f"; key {old} is retired" if old else ""))


# The commands this module adds to ``flask --app app audit`` (consent.cli.init_app adds them).
AUDIT_COMMANDS = (audit_checkpoint, audit_checkpoints, audit_export, key_cli)
