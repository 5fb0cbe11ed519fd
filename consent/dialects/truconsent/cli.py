"""``flask --app app truconsent ...``: assets, collection points and the local outbox."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from consent.cli import fail, org_or_fail
from consent.web import public_url
from consent.core.errors import DomainError

from . import mail, points

truconsent_cli = AppGroup("truconsent", help="truConsent: assets, collection points, outbox.")
asset_cli = AppGroup("asset", help="Assets (apps, websites) of an organisation.")
cp_cli = AppGroup("cp", help="Collection points: a notice with its purposes, under an asset.")
outbox_cli = AppGroup("outbox", help="Consent emails kept locally (no CONSENT_SMTP_URL).")
truconsent_cli.add_command(asset_cli)
truconsent_cli.add_command(cp_cli)
truconsent_cli.add_command(outbox_cli)


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DomainError as exc:
        fail(exc.message)


def _cp_dict(cp) -> dict:
    return {"id": cp.id, "display_id": cp.display_id, "asset_id": cp.asset_id,
            "title": cp.title, "notice_version": cp.notice_version, "purposes": cp.purposes}


@asset_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--name", required=True)
@click.option("--display-id", help="Defaults to the next AS### number.")
def asset_create(slug, name, display_id):
    """Create an asset."""
    asset = _run(points.create_asset, org_or_fail(slug), name, display_id, actor="cli")
    click.echo(json.dumps({"id": asset.id, "display_id": asset.display_id, "name": asset.name}))


@asset_cli.command("list")
@click.option("--org", "slug", required=True)
def asset_list(slug):
    """List assets."""
    for a in points.assets(org_or_fail(slug)):
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
    defs = []
    for raw in purposes:
        name, _, description = raw.partition(":")
        defs.append({"name": name.strip(), "description": description.strip(), "version": "1"})
    cp = _run(points.create_collection_point, org_or_fail(slug), asset_ref, title, notice_text, defs,
              notice_version, display_id, actor="cli")
    click.echo(json.dumps(_cp_dict(cp)))


@cp_cli.command("list")
@click.option("--org", "slug", required=True)
def cp_list(slug):
    """List collection points (JSON lines)."""
    for cp in points.collection_points(org_or_fail(slug)):
        click.echo(json.dumps(_cp_dict(cp)))


@outbox_cli.command("list")
@click.option("--org", "slug", required=True)
def outbox_list(slug):
    """List messages in the local outbox (recipients masked)."""
    for m in reversed(mail.outbox(org_or_fail(slug))):
        click.echo(f"{m.id}\t{m.status}\t{m.created_at:%Y-%m-%d %H:%M}\t{m.to_masked}\t{m.subject}")


@outbox_cli.command("show")
@click.option("--org", "slug", required=True)
@click.argument("message_id", type=int)
def outbox_show(slug, message_id):
    """Print one message in full, with its recipient while it is still waiting."""
    m = mail.outbox_message(org_or_fail(slug), message_id)
    if m is None:
        fail(f"no message {message_id}")
    click.echo(f"To: {m.to_address or m.to_masked}\nSubject: {m.subject}\nStatus: {m.status}\n")
    click.echo(m.body_text)


@outbox_cli.command("done")
@click.option("--org", "slug", required=True)
@click.argument("message_ids", type=int, nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every waiting message.")
def outbox_done(slug, message_ids, everything):
    """Mark messages delivered by hand and forget their recipients' addresses."""
    ids = mail.mark_delivered(org_or_fail(slug), None if everything else list(message_ids),
                              actor="cli")
    click.echo(f"{len(ids)} message(s) marked delivered")


@outbox_cli.command("url")
@click.option("--org", "slug", required=True)
def outbox_url(slug):
    """Print a signed link (valid one hour) to the outbox page."""
    from .pages import outbox_token

    click.echo(f"{public_url()}/truconsent/outbox?t={outbox_token(org_or_fail(slug))}")
