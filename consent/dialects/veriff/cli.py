"""``flask --app app veriff ...``: integrations."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from consent.cli import org_or_fail
from consent.core import auth

veriff_cli = AppGroup("veriff", help="Veriff integrations.")


def create_integration(org, name: str = "veriff integration", actor: str = "system"):
    """An integration: a credential of kind ``hmac`` (API key + shared secret)."""
    return auth.create_credential(org, kind="hmac", name=name, scopes=("consent",), actor=actor)


@veriff_cli.command("integration-create")
@click.option("--org", "org_slug", required=True, help="Organisation slug or id.")
@click.option("--name", default="veriff integration")
def integration_create(org_slug, name):
    """Create an integration; prints its API key and shared secret (shown once)."""
    issued = create_integration(org_or_fail(org_slug), name=name, actor="cli")
    click.echo(json.dumps({"id": issued.credential.id, "api_key": issued.key,
                           "shared_secret": issued.shared_secret}))
