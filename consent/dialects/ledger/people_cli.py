"""``flask --app app subject ...``, ``rights ...`` and ``retention ...``: people's rights from
the command line (``consent.core.rights``, ``consent.core.retention``). JSON out."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from consent.cli import org_or_fail
from consent.core import retention, rights
from consent.core.errors import DomainError


def _out(value) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _run(fn):
    try:
        return fn()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("subject")
def subject_cli():
    """A data principal: erase their personal data, or report what is held about them."""


@subject_cli.command("erase")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.option("--reason", default=None)
@click.argument("identifier")
def subject_erase(slug, reason, identifier):
    """Erase IDENTIFIER's personal data (the decision history stays; verify still passes)."""
    org = org_or_fail(slug)
    r, result = _run(lambda: rights.erase_now(org.id, identifier, actor="cli",
                                              source="cli", reason=reason))
    _out({"erased": result is not None, "request_id": r.id, **(result or {})})


@subject_cli.command("report")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.argument("identifier")
def subject_report(slug, identifier):
    """Everything held about IDENTIFIER, as JSON."""
    org = org_or_fail(slug)
    found = _run(lambda: rights.report(org.id, identifier))
    if found is None:
        raise click.ClickException("no subject has this identifier (never known, or erased)")
    _out(found)


@click.group("rights")
def rights_cli():
    """Rights requests: list them and act on them."""


@rights_cli.command("list")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.option("--status", type=click.Choice(rights.STATUSES), default=None)
@click.option("--overdue", is_flag=True)
def rights_list(slug, status, overdue):
    """The organisation's requests (JSON lines)."""
    org = org_or_fail(slug)
    after = None
    while True:
        page = rights.list_requests(org.id, status=status, overdue=overdue, after=after,
                                    limit=200)
        for r in page:
            click.echo(json.dumps(rights.request_view(r), sort_keys=True, ensure_ascii=False))
        if len(page) < 200:
            return
        after = page[-1].id


@rights_cli.command("add")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.option("--kind", type=click.Choice(rights.KINDS), required=True)
@click.option("--reason", default=None)
@click.argument("identifier")
def rights_add(slug, kind, reason, identifier):
    """Record a request received from IDENTIFIER."""
    org = org_or_fail(slug)
    _out(rights.request_view(_run(lambda: rights.create_request(
        org.id, kind, identifier, actor="cli", source="cli", reason=reason))))


def _step(name: str, doc: str, run):
    @rights_cli.command(name, help=doc)
    @with_appcontext
    @click.option("--org", "slug", required=True)
    @click.argument("request_id")
    def command(slug, request_id, **kwargs):
        org = org_or_fail(slug)
        _out(rights.request_view(_run(lambda: run(org.id, request_id, **kwargs))))
    return command


_step("show", "One request.", lambda org, rid: rights.get_request(org, rid))
_step("start", "received → in_progress.",
      lambda org, rid: rights.start_request(org, rid, actor="cli"))
_step("complete", "Complete it (an erasure request erases its subject now).",
      lambda org, rid: rights.complete_request(org, rid, actor="cli"))


@rights_cli.command("refuse")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.option("--reason", required=True)
@click.argument("request_id")
def rights_refuse(slug, reason, request_id):
    """Refuse it, with the reason the requester is given."""
    org = org_or_fail(slug)
    _out(rights.request_view(_run(lambda: rights.refuse_request(
        org.id, request_id, actor="cli", reason=reason))))


@click.group("retention")
def retention_cli():
    """The organisation's retention policy (off by default)."""


@retention_cli.command("show")
@with_appcontext
@click.option("--org", "slug", required=True)
def retention_show(slug):
    _out(retention.policy(org_or_fail(slug).id))


@retention_cli.command("set")
@with_appcontext
@click.option("--org", "slug", required=True)
@click.option("--subject-days", type=click.IntRange(1, 36500), default=None)
@click.option("--evidence-days", type=click.IntRange(1, 36500), default=None)
def retention_set(slug, subject_days, evidence_days):
    """Set it (an option left out: keep that data)."""
    _out(retention.set_policy(org_or_fail(slug).id, actor="cli", subject_days=subject_days,
                              evidence_days=evidence_days))


@retention_cli.command("run")
@with_appcontext
@click.option("--org", "slug", required=True)
def retention_run(slug):
    """Apply the policy now (the background loop does it every hour)."""
    _out(retention.run_org(org_or_fail(slug).id))
