"""``flask --app app truconsent ...``: assets (with their allowed origins), collection points
(with what their banners show) and the local outbox."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from marshmallow import ValidationError

from consent.cli import fail, org_or_fail
from consent.web import public_url
from consent.core.errors import DomainError
from schemas.truconsent import BannerSettingsSchema, PurposeDefSchema

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
            "title": cp.title, "notice_version": cp.notice_version, "purposes": cp.purposes,
            "consent_type": cp.consent_type, "banner_settings": cp.settings}


def _asset_dict(asset) -> dict:
    return {"id": asset.id, "display_id": asset.display_id, "name": asset.name,
            "asset_type": asset.asset_type, "description": asset.description,
            "allowed_origins": asset.allowed_origins}


def _json_option(text: str | None, schema, what: str):
    """A JSON option checked by the admin API's own schema (the same rules, the same words)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
        return schema.load(value)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not JSON: {exc}")
    except ValidationError as exc:
        fail(f"{what}: {json.dumps(exc.messages)}")


@asset_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--name", required=True)
@click.option("--display-id", help="Defaults to the next AS### number.")
@click.option("--type", "asset_type", help="web, mobile_app, ... (shown in banners).")
@click.option("--description")
@click.option("--origin", "origins", multiple=True,
              help="Repeat: an origin whose pages may call the SDK API (https://shop.example.com, "
                   "http://localhost:*, https://*.example.com). None: CONSENT_CORS_ORIGINS.")
def asset_create(slug, name, display_id, asset_type, description, origins):
    """Create an asset."""
    asset = _run(points.create_asset, org_or_fail(slug), name, display_id, actor="cli",
                 asset_type=asset_type, description=description,
                 allowed_origins=list(origins) or None)
    click.echo(json.dumps(_asset_dict(asset)))


@asset_cli.command("origins")
@click.option("--org", "slug", required=True)
@click.argument("asset_ref")
@click.option("--origin", "origins", multiple=True, help="Repeat: the new list, whole.")
@click.option("--default", "use_default", is_flag=True,
              help="No list of its own: the service's CONSENT_CORS_ORIGINS.")
def asset_origins(slug, asset_ref, origins, use_default):
    """Set which origins' pages may call the SDK API for an asset."""
    if bool(origins) == use_default:
        fail("give --origin (one or more) or --default")
    asset = _run(points.update_asset, org_or_fail(slug), asset_ref,
                 {"allowed_origins": None if use_default else list(origins)}, actor="cli")
    click.echo(json.dumps(_asset_dict(asset)))


@asset_cli.command("list")
@click.option("--org", "slug", required=True)
def asset_list(slug):
    """List assets."""
    for a in points.assets(org_or_fail(slug)):
        origins = " ".join(a.allowed_origins) if a.allowed_origins is not None else "(default)"
        click.echo(f"{a.display_id}\t{a.id}\t{a.name}\t{origins}")


@cp_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--asset", "asset_ref", required=True, help="Asset UUID or display id.")
@click.option("--title", required=True)
@click.option("--notice", "notice_text", required=True, help="The notice text.")
@click.option("--notice-version", default="1", show_default=True)
@click.option("--purpose", "purposes", multiple=True,
              help='Repeat: "Name" or "Name:description" (version 1).')
@click.option("--purposes-json", help="The purposes as the admin API takes them: a JSON list "
                                      "of {id, name, description, is_mandatory, is_legitimate, "
                                      "expiry_period, data_elements, ...}.")
@click.option("--settings-json", help="The banner settings, a JSON object.")
@click.option("--consent-type", default="standard_consent", show_default=True,
              type=click.Choice(points.CONSENT_TYPES))
@click.option("--display-id", help="Defaults to the next CP### number.")
def cp_create(slug, asset_ref, title, notice_text, notice_version, purposes, purposes_json,
              settings_json, consent_type, display_id):
    """Create a collection point (a banner)."""
    if bool(purposes) == bool(purposes_json):
        fail("give --purpose (one or more) or --purposes-json")
    defs = _json_option(purposes_json, PurposeDefSchema(many=True), "--purposes-json") or []
    for raw in purposes:
        name, _, description = raw.partition(":")
        defs.append({"name": name.strip(), "description": description.strip(), "version": "1"})
    settings = _json_option(settings_json, BannerSettingsSchema(), "--settings-json")
    cp = _run(points.create_collection_point, org_or_fail(slug), asset_ref, title, notice_text, defs,
              notice_version, display_id, actor="cli", consent_type=consent_type,
              settings=settings)
    click.echo(json.dumps(_cp_dict(cp)))


@cp_cli.command("banner")
@click.option("--org", "slug", required=True)
@click.argument("cp_ref")
@click.option("--settings-json", help="The new banner settings, whole (\"{}\": none).")
@click.option("--consent-type", type=click.Choice(points.CONSENT_TYPES))
def cp_banner(slug, cp_ref, settings_json, consent_type):
    """Change a collection point's banner: its settings and consent type."""
    changes = {}
    if settings_json is not None:
        changes["banner_settings"] = _json_option(settings_json, BannerSettingsSchema(),
                                                  "--settings-json")
    if consent_type:
        changes["consent_type"] = consent_type
    if not changes:
        fail("give --settings-json and/or --consent-type")
    cp = _run(points.update_collection_point, org_or_fail(slug), cp_ref, changes, actor="cli")
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


# -- the rights center ------------------------------------------------------------------------

rights_cli = AppGroup("rights-center", help="The rights center: settings, DPO, grievances.")
truconsent_cli.add_command(rights_cli)


def _rc():
    from . import rights_center

    return rights_center


def _print(value) -> None:
    click.echo(json.dumps(value, default=str, indent=2))


@rights_cli.command("settings")
@click.option("--org", "slug", required=True)
@click.option("--asset", "asset_ref", help="An asset (UUID or display id); none: the "
                                           "organisation's own settings.")
@click.option("--json", "settings_json",
              help='Replace them: {"access_mode": "non_sso", "show_dpo_section": true, ...} '
                   "({} clears them). Without it: show them.")
def rc_settings(slug, asset_ref, settings_json):
    """Show or replace the rights center's settings (the organisation's, or an asset's)."""
    from schemas.truconsent_rights import RightsCenterSettingsFields

    org = org_or_fail(slug)
    asset = None
    if asset_ref:
        asset = points.find_asset(org, asset_ref)
        if asset is None:
            fail(f"no asset {asset_ref!r}")
    if settings_json is None:
        _print(_rc().settings_view(org, asset))
        return
    values = _json_option(settings_json, RightsCenterSettingsFields(), "--json")
    _print(_run(_rc().set_settings, org, asset, values, "cli"))


@rights_cli.command("dpo")
@click.option("--org", "slug", required=True)
@click.option("--full-name", help="Set the DPO (with --email): replaced whole.")
@click.option("--email")
@click.option("--appointment-date", help="YYYY-MM-DD")
@click.option("--qualifications")
@click.option("--responsibilities")
@click.option("--working-hours")
@click.option("--response-time")
def rc_dpo(slug, full_name, email, **rest):
    """Show or set the organisation's data protection officer."""
    from schemas.truconsent_rights import DpoInSchema, DpoSchema

    org = org_or_fail(slug)
    if full_name is None and email is None:
        _print(DpoSchema().dump(_run(_rc().dpo, org)))
        return
    given = {"full_name": full_name, "email": email,
             **{k: v for k, v in rest.items() if v is not None}}
    try:
        values = DpoInSchema().load(given)
    except ValidationError as exc:
        fail(json.dumps(exc.messages))
    _print(DpoSchema().dump(_run(_rc().set_dpo, org, values, "cli")))


@rights_cli.command("grievances")
@click.option("--org", "slug", required=True)
@click.option("--status", type=click.Choice(("open", "in_progress", "resolved", "closed")))
def rc_grievances(slug, status):
    """List grievance tickets, newest first."""
    for t in _rc().all_grievances(org_or_fail(slug), status):
        click.echo(f"{t['ticket_id']}  {t['status']:<11}  {t['created_at']}  {t['subject']}")


@rights_cli.command("reply")
@click.option("--org", "slug", required=True)
@click.argument("ticket")
@click.option("--message")
@click.option("--status", type=click.Choice(("open", "in_progress", "resolved", "closed")))
def rc_reply(slug, ticket, message, status):
    """Answer a grievance ticket as the organisation and/or set its status."""
    if not message and not status:
        fail("give --message and/or --status")
    _print(_run(_rc().reply, org_or_fail(slug), ticket, message, status, "cli"))
