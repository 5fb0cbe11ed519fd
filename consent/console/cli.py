"""``flask --app app console-link --email ...``: print a one-time sign-in link to the console
for an operator (what the sign-in page e-mails when a mail server is configured)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from . import access


@click.command("console-link")
@with_appcontext
@click.option("--email", required=True, help="The operator's e-mail address.")
@click.option("--url", "base_url", default=None,
              help="The service's public URL (default CONSENT_PUBLIC_URL, else "
                   "http://127.0.0.1:5000).")
def console_link(email, base_url):
    """Print a sign-in link to the operator console (one use, 15 minutes)."""
    user = access.operator_by_email(email)
    if user is None:
        raise click.ClickException(f"{email} is not a member of any organisation")
    if base_url:
        current_app.config["CONSENT_PUBLIC_URL"] = base_url.rstrip("/")
    minutes = int(current_app.config["CONSENT_CONSOLE_LINK_MAX_AGE"]) // 60
    click.echo(access.sign_in_link(user))
    click.echo(f"(signs in once, within {minutes} minutes)", err=True)
