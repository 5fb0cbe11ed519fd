"""``flask --app app avacy ...``: webspaces, API tokens and the archive page's link."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from consent.cli import org_or_fail

from . import archive
from .pages import archive_url

avacy_cli = AppGroup("avacy", help="Avacy: webspaces (domains groups), API tokens, archive.")


@avacy_cli.command("webspace-create")
@click.option("--org", "slug", required=True, help="Organisation slug (the tenant).")
@click.option("--name", default="webspace", show_default=True)
def webspace_create(slug, name):
    """Create a webspace; prints its id and key."""
    space = archive.create_webspace(org_or_fail(slug), name, actor="cli")
    click.echo(json.dumps({"id": space.number, "key": space.key, "name": space.name}))


@avacy_cli.command("webspace-list")
@click.option("--org", "slug", required=True)
def webspace_list(slug):
    """List webspaces: id, key, name."""
    for space in archive.webspaces(org_or_fail(slug)):
        click.echo(f"{space.number}\t{space.key}\t{space.name}")


@avacy_cli.command("token-create")
@click.option("--org", "slug", required=True)
@click.option("--name", default="avacy token", show_default=True)
def token_create(slug, name):
    """Create an API token (Authorization: Bearer); shown once."""
    issued = archive.create_token(org_or_fail(slug), name, actor="cli")
    click.echo(json.dumps({"id": issued.credential.id, "token": issued.key}))


@avacy_cli.command("archive-url")
@click.option("--org", "slug", required=True)
def archive_link(slug):
    """Print a signed link (valid one hour) to the consent archive page."""
    click.echo(archive_url(org_or_fail(slug)))
