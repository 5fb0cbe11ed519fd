"""Operator CLI: ``flask --app app <command>``."""
from __future__ import annotations

import copy
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from consent.core import auth, clock, ids, ledger, outbox, storage, verify
from consent.core.errors import DomainError
from consent.web import public_url
from consent.web.dialect import registry
from schemas.ledger import VerdictSchema

DEMO_SLUG = "demo"
DEMO_USER = "demo@example.com"


def fail(message: str, code: int = 1):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def org_or_fail(slug: str):
    org = ledger.get_org(slug)
    if org is None:
        fail(f"no organisation {slug!r}")
    return org


def user_or_fail(email: str):
    user = auth.user_by_email(email)
    if user is None:
        fail(f"no user {email!r}")
    return user


def domain_errors(fn):
    """Show domain errors as one line and exit 1, not as a trace."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            fail(exc.message)
    return wrapper


@click.command("migrate")
@click.option("--status", "show_status", is_flag=True,
              help="Only show each component's version; exit 1 if any is not current.")
@with_appcontext
def migrate_command(show_status):
    """Bring the database schema to this version: create a new database's tables, or apply the
    migrations an older one lacks (each in its own transaction, under a lock; safe to run again
    and from several instances at once)."""
    from .core import migrate

    url = redact(current_app.config["CONSENT_DATABASE_URL"])
    if show_status:
        for s in migrate.status():
            current = "none" if s.current is None else s.current
            click.echo(f"{s.name:<12} {current} of {s.latest}"
                       + (" (from before versioned migrations)" if s.legacy else ""))
        problem = migrate.problem()
        if problem:
            fail(problem)
        click.echo(f"Schema current: {url}")
        return
    for step in migrate.upgrade():
        click.echo(f"{step.component}: version {step.version}: {step.description} "
                   f"({step.seconds:.2f} s)")
    click.echo(f"Database ready: {url}")


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the tables, or migrate an older schema (the same as ``migrate``)."""
    storage.create_tables()
    click.echo(f"Database ready: {redact(current_app.config['CONSENT_DATABASE_URL'])}")


def redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def seed_demo_data(options: dict | None = None) -> dict:
    """Create the demo organisation (if absent) and fresh working credentials for every dialect:
    one section per registered dialect that seeds (its ``seed_demo``). ``options``: the values of
    the ``seed-demo`` options dialects add (``Dialect.seed_demo_options``), each passed to its
    own dialect by name."""
    options = options or {}
    storage.create_tables()
    org = ledger.get_org(DEMO_SLUG) or ledger.create_org(DEMO_SLUG, "Demo Organisation", "demo")
    user = auth.user_by_email(DEMO_USER) or auth.create_user(DEMO_USER, "Demo Operator")
    auth.add_member(org.id, user)
    admin = auth.create_credential(org.id, name="demo ledger admin", scopes=("admin", "consent"),
                                   actor="cli:seed-demo")
    out = {
        "base_url": public_url(),
        "org": {"slug": org.slug, "subdomain": org.subdomain},
        "ledger": {"admin_api_key": admin.key},
    }
    for dialect in registry(current_app).dialects:
        if dialect.seed_demo is not None:
            own = {o.name: options.get(o.name) for o in dialect.seed_demo_options}
            out[dialect.name] = dialect.seed_demo(org, user, **own)
    return out


def seeded_demo_data(options: dict | None = None) -> dict:
    """:func:`seed_demo_data`; in deterministic mode (``CONSENT_SEED``) at a fixed instant, so
    two fresh runs print the same credentials, ids and tokens."""
    if ids.seeded() is None:
        return seed_demo_data(options)
    with clock.frozen(clock.SEED_EPOCH):
        return seed_demo_data(options)


@click.command("seed-demo")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--url", "served_at", metavar="URL",
              help="Where the service is served, for the links printed when CONSENT_PUBLIC_URL "
                   "is unset (make run passes http://HOST:PORT).")
@click.option("--sample", "sample_size", metavar="N", type=click.IntRange(1, 1_000_000),
              help="Also fill the demo organisation with a history of N consent records "
                   "across every provider, spread over the last 30 days (consent.sample).")
@domain_errors
def seed_demo(as_json, served_at, sample_size=None, **dialect_options):
    """Create the demo organisation (idempotent) and print working credentials."""
    if served_at and not current_app.config["CONSENT_PUBLIC_URL"]:
        current_app.config["CONSENT_PUBLIC_URL"] = served_at.rstrip("/")
    data = seeded_demo_data(dialect_options)
    if sample_size:
        from . import sample

        try:
            data["sample"] = sample.generate(current_app, data, sample_size,
                                             progress=sample_size >= 500)
        except sample.SampleError as exc:
            fail(f"the sample history stopped: {exc}")
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"Demo organisation: {data['org']['slug']} (subdomain {data['org']['subdomain']})")
    click.echo(f"Base URL:          {data['base_url']}")
    for section, values in data.items():
        if isinstance(values, dict) and section not in ("org", "sample"):
            click.echo(f"[{section}]")
            for key, value in values.items():
                shown = json.dumps(value) if isinstance(value, (dict, list)) else value
                click.echo(f"  {key}: {shown}")
    click.echo("Keys are shown once; run seed-demo again for fresh ones.")
    if "sample" in data:
        s = data["sample"]
        sources = ", ".join(f"{k} {v}" for k, v in s["by_source"].items())
        click.echo(f"Sample history: {s['consents']} consent records ({sources}) from "
                   f"{s['from']} to {s['to']}; {s['rights_requests']} rights requests; "
                   f"webhooks {s['webhooks']['delivered']} delivered, "
                   f"{s['webhooks']['failed']} failed.")


org_cli = AppGroup("org", help="Organisations.")


@org_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--subdomain", help="Defaults to the slug.")
@domain_errors
def org_create(slug, name, subdomain):
    """Create an organisation."""
    org = ledger.create_org(slug, name, subdomain, actor="cli")
    click.echo(json.dumps({"id": org.id, "slug": org.slug, "name": org.name,
                           "subdomain": org.subdomain}))


@org_cli.command("list")
def org_list():
    """List organisations."""
    for org in ledger.all_orgs():
        click.echo(f"{org.slug}\t{org.subdomain}\t{org.name}\t{org.id}")


user_cli = AppGroup("user", help="Operators.")


@user_cli.command("create")
@click.argument("email")
@click.option("--name", default="")
@domain_errors
def user_create(email, name):
    """Create an operator."""
    user = auth.create_user(email, name)
    click.echo(json.dumps({"id": user.id, "email": user.email}))


member_cli = AppGroup("member", help="Organisation memberships.")


@member_cli.command("add")
@click.option("--org", "slug", required=True)
@click.option("--email", required=True)
@click.option("--role", default="admin", type=click.Choice(["admin", "member"]))
@domain_errors
def member_add(slug, email, role):
    """Make an operator a member of an organisation."""
    auth.add_member(org_or_fail(slug).id, user_or_fail(email), role, actor="cli")
    click.echo(f"{email} is a {role} of {slug}")


@member_cli.command("remove")
@click.option("--org", "slug", required=True)
@click.option("--email", required=True)
@domain_errors
def member_remove(slug, email):
    """Remove an operator from an organisation: from their next request on, none of their tokens
    works for it (their tokens still working are revoked for it)."""
    org, user = org_or_fail(slug), user_or_fail(email)
    removed = auth.remove_member(org.id, user.id, actor="cli")
    click.echo(f"{user.email} removed from {org.slug}; "
               f"{removed['tokens_revoked']} token(s) revoked for it")


@member_cli.command("list")
@click.option("--org", "slug", required=True)
def member_list(slug):
    """List an organisation's members (JSON lines)."""
    for m in auth.members(org_or_fail(slug).id):
        click.echo(json.dumps({"user_id": m["user_id"], "email": m["email"], "role": m["role"],
                               "created_at": m["created_at"].isoformat()}))


token_cli = AppGroup("token", help="Bearer session tokens.")


@token_cli.command("create")
@click.option("--email", required=True)
@click.option("--lifetime", default=3600, show_default=True, type=int, help="Seconds.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {id, token, hint, expires_at} instead of the token alone.")
@domain_errors
def token_create(email, lifetime, as_json):
    """Issue a bearer session token for an operator (printed once)."""
    row, token = auth.issue_session(current_app.config["SECRET_KEY"], user_or_fail(email),
                                    lifetime, current_app.config["CONSENT_SESSION_MAX_AGE"])
    if as_json:
        click.echo(json.dumps({"id": row.id, "token": token, "hint": row.hint,
                               "expires_at": row.expires_at.isoformat()}))
    else:
        click.echo(token)


@token_cli.command("list")
@click.option("--email", required=True)
def token_list(email):
    """An operator's tokens, newest first (JSON lines): id, hint (the token's last characters),
    created, expires, revoked (everywhere) and the organisations it is revoked for. Never the
    token itself."""
    for t in auth.user_tokens(user_or_fail(email)):
        click.echo(json.dumps({
            "id": t["id"], "hint": t["hint"], "created_at": t["created_at"].isoformat(),
            "expires_at": t["expires_at"].isoformat(),
            "revoked_at": t["revoked_at"].isoformat() if t["revoked_at"] else None,
            "status": t["status"], "revoked_in": t["revoked_in"]}))


@token_cli.command("revoke")
@click.argument("token_id", required=False)
@click.option("--email", help="Revoke every token of this operator.")
@domain_errors
def token_revoke(token_id, email):
    """Revoke a token (TOKEN_ID), or every token of an operator (--email), everywhere: it stops
    working on the next request."""
    if bool(token_id) == bool(email):
        fail("give a TOKEN_ID or --email (one of them)")
    if token_id:
        user = auth.token_owner(token_id)
        if user is None:
            fail(f"no token {token_id!r}")
    else:
        user = user_or_fail(email)
    revoked = auth.revoke_tokens(user, token_id, actor="cli")
    if token_id:
        click.echo(f"revoked {token_id}" if revoked else f"{token_id} was already revoked")
    else:
        click.echo(f"revoked {len(revoked)} token(s) of {user.email}")


key_cli = AppGroup("key", help="API keys, HMAC integrations and Basic-auth clients.")


@key_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--kind", default="api_key", type=click.Choice(auth.KINDS), show_default=True)
@click.option("--scope", "scopes", multiple=True, type=click.Choice(auth.SCOPES),
              help="Repeat for several; default consent.")
@click.option("--name", default="")
@domain_errors
def key_create(slug, kind, scopes, name):
    """Create a credential. Its secrets are printed once and never again."""
    issued = auth.create_credential(org_or_fail(slug).id, kind=kind, name=name,
                                    scopes=scopes or ("consent",), actor="cli")
    click.echo(json.dumps(issued.as_dict()))


@key_cli.command("revoke")
@click.option("--org", "slug", required=True)
@click.argument("credential_id")
@domain_errors
def key_revoke(slug, credential_id):
    """Revoke a credential."""
    auth.revoke_credential(org_or_fail(slug).id, credential_id, actor="cli")
    click.echo(f"revoked {credential_id}")


audit_cli = AppGroup("audit", help="The audit chain.")


@audit_cli.command("verify")
@click.option("--org", "slug", help="One organisation (default: every organisation).")
@click.option("--checkpoint", "checkpoint_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="Also prove the chain extends each signed checkpoint in FILE (one JSON "
                   "object or JSON Lines), each against its own organisation's chain; repeat "
                   "for several.")
def audit_verify(slug, checkpoint_files):
    """Verify the chain, every consent and every covered row. Prints one JSON document per
    organisation (a line): its slug (``org``) and the verdict's fields as GET
    /ledger/v1/audit/verify returns them (``first_bad_event``, ``first_bad_consent``,
    ``first_bad_table``, ``first_bad_row``, ``reason``...). With ``--checkpoint``, a line per
    checkpoint follows the verdicts (``OK: checkpoint ...`` on stdout, ``BROKEN:`` or
    ``REFUSED:`` on stderr). Exits 1 if any organisation is broken or any checkpoint fails."""
    orgs = [org_or_fail(slug)] if slug else ledger.all_orgs()
    broken = 0
    for org in orgs:
        result = VerdictSchema().dump(verify.full(org.id))
        click.echo(json.dumps({"org": org.slug, **result}))
        broken += not result["ok"]
    if checkpoint_files:
        from .checkpoint_cli import verify_checkpoints
        broken += verify_checkpoints(checkpoint_files)
    if broken:
        sys.exit(1)


@audit_cli.command("sealed")
@click.option("--org", "slug", required=True)
def audit_sealed(slug):
    """The seq up to which the organisation's chain was written before personal data became
    erasable (0: none). Events up to it may be redacted by erasures; give it to the standalone
    verifier (``python -m auditchain --sealed-seq N``)."""
    from .core import personal

    click.echo(personal.sealed_seq(org_or_fail(slug).id))


webhooks_cli = AppGroup("webhooks", help="Webhook deliveries (the durable outbox).")


@webhooks_cli.command("list")
@click.option("--org", "slug", required=True)
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
def webhooks_list(slug, status, limit):
    """List deliveries, newest first (JSON lines)."""
    for d in outbox.deliveries(org_or_fail(slug).id, status=status, limit=limit):
        click.echo(json.dumps({"id": d.id, "topic": d.topic, "reference": d.reference,
                               "url": d.url, "status": d.status, "attempts": d.attempts,
                               "last_status_code": d.last_status_code,
                               "last_error": d.last_error}))


@webhooks_cli.command("show")
@click.option("--org", "slug", required=True)
@click.argument("delivery_id", type=int)
@domain_errors
def webhooks_show(slug, delivery_id):
    """One delivery: the request and every attempt."""
    delivery = outbox.get(org_or_fail(slug).id, delivery_id)
    click.echo(f"#{delivery.id} {delivery.topic} -> {delivery.url}: {delivery.status}, "
               f"{delivery.attempts} attempt(s)")
    for name, value in delivery.headers.items():
        click.echo(f"  {name}: {value}")
    click.echo(f"  {delivery.body}")
    for a in outbox.attempts(delivery):
        click.echo(f"  {a.at:%Y-%m-%d %H:%M:%S} {a.status_code or '-'} {a.duration_ms} ms "
                   f"{a.error or ''}")


@webhooks_cli.command("replay")
@click.option("--org", "slug", required=True)
@click.argument("delivery_id", type=int)
@domain_errors
def webhooks_replay(slug, delivery_id):
    """Send a delivery again, with a fresh set of attempts."""
    outbox.replay(org_or_fail(slug).id, delivery_id, actor="cli")
    sent = outbox.send_due()
    click.echo(f"replayed {delivery_id}; {sent} due delivery(ies) attempted now")


@webhooks_cli.command("send")
def webhooks_send():
    """Attempt every delivery that is due now (a running service does this by itself)."""
    total = 0
    while (sent := outbox.send_due()):
        total += sent
    click.echo(f"{total} delivery(ies) attempted")


def seed_demo_command(dialects) -> click.Command:
    """``seed-demo`` with the options the dialects add (a copy per app; the original is kept)."""
    extra = [option for dialect in dialects for option in dialect.seed_demo_options]
    if not extra:
        return seed_demo
    command = copy.copy(seed_demo)
    command.params = list(seed_demo.params) + extra
    return command


# Commands that make the schema current themselves; every other one first checks that it is.
SCHEMA_COMMANDS = ("migrate", "init-db", "seed-demo")


def database_answers(fn, check_schema: bool = True):
    """Run a command only on a database that answers and (``check_schema``) whose schema is
    this code's: else one line saying what is wrong and what to do (``flask --app app
    migrate``), exit 1, never a traceback. A database that stops answering while the command
    runs is reported the same way."""
    import functools

    from .core import migrate, outage

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            problem = migrate.problem() if check_schema else None
            if problem:
                fail(problem)
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - only a database that does not answer
            if not outage.is_unavailable(exc):
                raise
            fail(f"the database does not answer: {outage.describe(exc)}")
    wrapper.database_checked = True
    return wrapper


def gate_commands(command, check_schema: bool = True) -> None:
    """Wrap a command (each command of a group) in :func:`database_answers`, once."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            gate_commands(sub, check_schema)
    elif command.callback is not None and not getattr(command.callback, "database_checked",
                                                      False):
        command.callback = database_answers(command.callback, check_schema)


def init_app(app):
    from .checkpoint_cli import AUDIT_COMMANDS   # audit checkpoint, checkpoints, export, key

    for command in AUDIT_COMMANDS:
        audit_cli.add_command(command)
    for command in (migrate_command, init_db, seed_demo_command(registry(app).dialects), org_cli, user_cli,
                    member_cli, token_cli, key_cli, audit_cli, webhooks_cli):
        app.cli.add_command(command)
    for dialect in registry(app).dialects:
        for command in dialect.cli_commands:
            app.cli.add_command(command)
    for name, command in app.cli.commands.items():
        gate_commands(command, check_schema=name not in SCHEMA_COMMANDS)
    from .scaffold import dialect_cli   # writes files; never needs the database

    app.cli.add_command(dialect_cli)
