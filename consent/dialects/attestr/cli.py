"""``flask --app app attestr ...``: clients (Attestr's apps) and their settings, and one round of
the dialect's background work."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from consent.cli import domain_errors, org_or_fail

from . import clients, worker

attestr_cli = AppGroup("attestr", help="Attestr clients (apps), their settings, the sweep.")


def _settings(fn):
    """The options every client-setting command takes."""
    options = [
        click.option("--name"),
        click.option("--service", "services", multiple=True,
                     help="A provisioned service code (repeat); e.g. BANK_ACC."),
        click.option("--ip", "ips", multiple=True,
                     help="An allowed address or network (repeat); none: any address."),
        click.option("--account-per-second", type=click.IntRange(0)),
        click.option("--account-per-day", type=click.IntRange(0)),
        click.option("--api-per-second", type=click.IntRange(0)),
        click.option("--api-per-day", type=click.IntRange(0)),
        click.option("--credits", type=click.IntRange(0), help="A credits balance (one per "
                                                               "consent registered)."),
        click.option("--webhook-url", help="Where lifecycle webhooks go ('' removes it)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _given(name, services, ips, **limits) -> dict:
    out = {k: v for k, v in limits.items() if v is not None}
    if name is not None:
        out["name"] = name
    if services:
        out["services"] = list(services)
    if ips:
        out["ip_allowlist"] = list(ips)
    return out


@attestr_cli.command("client-create")
@click.option("--org", "slug", required=True)
@_settings
@domain_errors
def client_create(slug, **options):
    """Create a client; prints its auth token (and webhook token) once."""
    settings = _given(**options)
    settings.setdefault("name", "attestr client")
    issued = clients.create_client(org_or_fail(slug), actor="cli", **settings)
    click.echo(json.dumps(issued.as_dict()))


@attestr_cli.command("client-update")
@click.option("--org", "slug", required=True)
@click.argument("credential_id")
@_settings
@click.option("--any-ip", is_flag=True, help="Remove the IP allow-list.")
@click.option("--no-limits", is_flag=True, help="Remove every rate limit.")
@click.option("--no-credits", is_flag=True, help="Stop counting credits.")
@click.option("--rotate-webhook-token", is_flag=True)
@domain_errors
def client_update(slug, credential_id, any_ip, no_limits, no_credits, rotate_webhook_token,
                  **options):
    """Change a client's settings (only those given)."""
    settings = _given(**options)
    if any_ip:
        settings["ip_allowlist"] = None
    if no_limits:
        settings.update(dict.fromkeys(clients.LIMITS))
    if no_credits:
        settings["credits"] = None
    client, token = clients.update_client(org_or_fail(slug), credential_id, actor="cli",
                                          rotate_webhook_token=rotate_webhook_token, **settings)
    out = {"credential_id": client.credential_id,
           **{name: getattr(client, name) for name in clients.SETTINGS}}
    if token:
        out["webhook_token"] = token
    click.echo(json.dumps(out))


@attestr_cli.command("client-list")
@click.option("--org", "slug", required=True)
def client_list(slug):
    """The organisation's clients and their settings (JSON lines; never a token)."""
    for client in clients.clients(org_or_fail(slug)):
        click.echo(json.dumps({"credential_id": client.credential_id,
                               **{name: getattr(client, name) for name in clients.SETTINGS}}))


@attestr_cli.command("sweep")
def sweep():
    """Expire the consents whose validity ended and run due exports now (a running service
    does this by itself every few seconds)."""
    click.echo(json.dumps(worker.sweep()))
