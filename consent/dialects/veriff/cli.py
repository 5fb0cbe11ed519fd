"""``flask --app app veriff ...``: integrations, their webhook URLs, and decisions without a
browser."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from consent.cli import domain_errors, fail, org_or_fail

from . import codes, lifecycle, service, webhooks

veriff_cli = AppGroup("veriff", help="Veriff integrations, webhooks and decisions.")


def _settings_json(settings: dict) -> str:
    return json.dumps({k: settings[k] for k in ("id", "event_webhook_url",
                                                 "decision_webhook_url")})


URL_OPTIONS = (
    click.option("--event-url", help="Where event webhooks (started, submitted) go."),
    click.option("--decision-url", help="Where decision webhooks go."),
)


def url_options(command):
    for option in reversed(URL_OPTIONS):
        command = option(command)
    return command


@veriff_cli.command("integration-create")
@click.option("--org", "org_slug", required=True, help="Organisation slug or id.")
@click.option("--name", default="veriff integration")
@url_options
@domain_errors
def integration_create(org_slug, name, event_url, decision_url):
    """Create an integration; prints its id, API key and shared secret (shown once)."""
    issued = service.create_integration(org_or_fail(org_slug), name=name, actor="cli",
                                        event_url=event_url, decision_url=decision_url)
    click.echo(json.dumps({"id": issued.credential.id, "api_key": issued.key,
                           "shared_secret": issued.shared_secret,
                           "event_webhook_url": event_url or None,
                           "decision_webhook_url": decision_url or None}))


@veriff_cli.command("webhooks")
@click.option("--org", "org_slug", required=True, help="Organisation slug or id.")
@click.argument("integration_id")
@url_options
@click.option("--clear-event-url", is_flag=True, help="Send no event webhooks.")
@click.option("--clear-decision-url", is_flag=True, help="Send no decision webhooks.")
@click.option("--api-key", help="The integration's API key, once, for an integration made with "
                                "`key create --kind hmac` (its webhooks carry it).")
@domain_errors
def integration_webhooks(org_slug, integration_id, event_url, decision_url, clear_event_url,
                         clear_decision_url, api_key):
    """Show or set an integration's webhook URLs (options left out are kept)."""
    org = org_or_fail(org_slug)
    urls = {}
    if event_url or clear_event_url:
        urls["event_url"] = None if clear_event_url else event_url
    if decision_url or clear_decision_url:
        urls["decision_url"] = None if clear_decision_url else decision_url
    if urls or api_key:
        settings = webhooks.configure(org, integration_id, api_key=api_key, actor="cli", **urls)
    else:
        settings = webhooks.settings_of(org, integration_id)
    click.echo(_settings_json(settings))


@veriff_cli.command("decide")
@click.argument("session_id")
@click.argument("status", type=click.Choice(codes.DECISIONS))
@click.option("--reason-code", type=click.IntRange(0, 999),
              help="declined: 101-129, resubmission_requested: 201-207 (default 102, 201).")
@domain_errors
def decide(session_id, status, reason_code):
    """Decide a session as a tester would on its page (sends the decision webhook)."""
    try:
        session = service.change(*service.by_id(session_id), lifecycle.decide, status,
                                 reason_code, "cli", via="cli")
    except codes.InvalidDecision as exc:
        fail(str(exc))
    except lifecycle.SessionStateError as exc:
        fail(str(exc))
    if session is None:
        fail(f"no Veriff session {session_id!r}")
    click.echo(json.dumps(service.decision(session)))
