"""``flask --app app truconsent ...``: assets, collection points and the local outbox."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from consent.core import audit, ledger
from consent.core.errors import DomainError
from consent.core.storage import OutboxMessage, transaction

truconsent_cli = AppGroup("truconsent", help="truConsent: assets, collection points, outbox.")
asset_cli = AppGroup("asset", help="Assets (apps, websites) of an organisation.")
cp_cli = AppGroup("cp", help="Collection points: a notice with its purposes, under an asset.")
outbox_cli = AppGroup("outbox", help="Consent emails kept locally (no CONSENT_SMTP_URL).")
truconsent_cli.add_command(asset_cli)
truconsent_cli.add_command(cp_cli)
truconsent_cli.add_command(outbox_cli)


def _org(slug):
    org = ledger.get_org(slug)
    if org is None:
        click.echo(f"Error: no organisation {slug!r}", err=True)
        sys.exit(1)
    return org


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DomainError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)


def _cp_dict(cp) -> dict:
    return {"id": cp.id, "display_id": cp.display_id, "asset_id": cp.asset_id,
            "title": cp.title, "notice_version": cp.notice_version, "purposes": cp.purposes}


@asset_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--name", required=True)
@click.option("--display-id", help="Defaults to the next AS### number.")
def asset_create(slug, name, display_id):
    """Create an asset."""
    from . import service

    asset = _run(service.create_asset, _org(slug), name, display_id, actor="cli")
    click.echo(json.dumps({"id": asset.id, "display_id": asset.display_id, "name": asset.name}))


@asset_cli.command("list")
@click.option("--org", "slug", required=True)
def asset_list(slug):
    """List assets."""
    from .models import TcAsset

    for a in TcAsset.select().where(TcAsset.org == _org(slug).id).order_by(TcAsset.display_id):
        click.echo(f"{a.display_id}\t{a.id}\t{a.name}")


@cp_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--asset", "asset_ref", required=True, help="Asset UUID or display id.")
@click.option("--title", required=True)
@click.option("--notice", "notice_text", required=True, help="The notice text.")
@click.option("--notice-version", default="1", show_default=True)
@click.option("--purpose", "purposes", multiple=True, required=True,
              help='Repeat: "Name" or "Name:description" (version 1).')
@click.option("--display-id", help="Defaults to the next CP### number.")
def cp_create(slug, asset_ref, title, notice_text, notice_version, purposes, display_id):
    """Create a collection point."""
    from . import service

    defs = []
    for raw in purposes:
        name, _, description = raw.partition(":")
        defs.append({"name": name.strip(), "description": description.strip(), "version": "1"})
    cp = _run(service.create_collection_point, _org(slug), asset_ref, title, notice_text, defs,
              notice_version, display_id, actor="cli")
    click.echo(json.dumps(_cp_dict(cp)))


@cp_cli.command("list")
@click.option("--org", "slug", required=True)
def cp_list(slug):
    """List collection points (JSON lines)."""
    from .models import TcCollectionPoint

    for cp in (TcCollectionPoint.select().where(TcCollectionPoint.org == _org(slug).id)
               .order_by(TcCollectionPoint.display_id)):
        click.echo(json.dumps(_cp_dict(cp)))


def _outbox(org):
    return (OutboxMessage.select().where((OutboxMessage.org == org.id)
                                         & (OutboxMessage.transport == "outbox"))
            .order_by(OutboxMessage.id))


@outbox_cli.command("list")
@click.option("--org", "slug", required=True)
def outbox_list(slug):
    """List messages in the local outbox (recipients masked)."""
    for m in _outbox(_org(slug)):
        click.echo(f"{m.id}\t{m.status}\t{m.created_at:%Y-%m-%d %H:%M}\t{m.to_masked}\t{m.subject}")


@outbox_cli.command("show")
@click.option("--org", "slug", required=True)
@click.argument("message_id", type=int)
def outbox_show(slug, message_id):
    """Print one message in full, with its recipient while it is still waiting."""
    m = _outbox(_org(slug)).where(OutboxMessage.id == message_id).first()
    if m is None:
        click.echo(f"Error: no message {message_id}", err=True)
        sys.exit(1)
    click.echo(f"To: {m.to_address or m.to_masked}\nSubject: {m.subject}\nStatus: {m.status}\n")
    click.echo(m.body_text)


@outbox_cli.command("done")
@click.option("--org", "slug", required=True)
@click.argument("message_ids", type=int, nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every waiting message.")
def outbox_done(slug, message_ids, everything):
    """Mark messages delivered by hand and forget their recipients' addresses."""
    org = _org(slug)
    query = _outbox(org).where(OutboxMessage.status == "queued")
    if not everything:
        query = query.where(OutboxMessage.id.in_(list(message_ids) or [-1]))
    ids = [m.id for m in query]
    with transaction():
        if ids:
            OutboxMessage.update(status="delivered", to_address=None).where(
                OutboxMessage.id.in_(ids)).execute()
            audit.append(org.id, actor="cli", action="truconsent.outbox.done",
                         entity_type="outbox", entity_id=",".join(map(str, ids))[:64],
                         payload={"ids": ids})
    click.echo(f"{len(ids)} message(s) marked delivered")


@outbox_cli.command("url")
@click.option("--org", "slug", required=True)
def outbox_url(slug):
    """Print a signed link (valid one hour) to the outbox page."""
    from .collector import outbox_token

    click.echo(f"{current_app.config['CONSENT_PUBLIC_URL']}/truconsent/outbox?t="
               f"{outbox_token(_org(slug))}")
