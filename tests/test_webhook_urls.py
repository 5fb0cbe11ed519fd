"""Webhook URLs a tenant may set (issue 16, item 2): every place a URL is set (Veriff's
``PATCH /ledger/v1/veriff/integrations/{id}``, ``veriff webhooks``, ``veriff integration-create``,
``seed-demo --veriff-*-url``, Attestr's ``client-create`` and ``client-update``) refuses, through
the one core check (consent.core.outbound.check_url), every URL whose host is or resolves to an
address webhooks may not reach, in every numeric form, with the dialect's own 4xx or the CLI's
error and nothing changed; ``CONSENT_WEBHOOK_ALLOW_NETWORKS`` allows networks (loopback by
default)."""
from __future__ import annotations

import json
import uuid

import pytest

from consent import create_app
from consent.core import storage
from consent.core.storage import AuditEvent
from consent.dialects.attestr import clients
from consent.dialects.attestr.models import AttestrClient
from consent.dialects.veriff.models import VeriffIntegration
from tests.helpers import OrgFixture
from tests.openapi_contract import ContractClient
from tests.veriff_helpers import Integration

TAIL = ". Webhooks go only to public addresses (and to networks the operator allows)"

# (URL, why), refused with the default setting (loopback allowed).
REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://169.254.1.1/hook", "169.254.1.1 is a link-local address"),
    ("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
    ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("https://192.168.1.20/hook", "192.168.1.20 is a private address"),
    ("http://[fd00::1]/hook", "fd00::1 is a private address"),
    ("http://0.0.0.0:8080/", "0.0.0.0 is the unspecified address"),
    ("http://[::]/", ":: is the unspecified address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://100.64.0.1/", "100.64.0.1 is an address that is not publicly routable"),
    ("http://2852039166/", "2852039166 resolves to 169.254.169.254, a cloud metadata address"),
    ("http://0xa9.0xfe.0xa9.0xfe/",
     "0xa9.0xfe.0xa9.0xfe resolves to 169.254.169.254, a cloud metadata address"),
    ("http://025177524776/", "025177524776 resolves to 169.254.169.254, a cloud metadata address"),
    ("http://0/", "0 resolves to 0.0.0.0, the unspecified address"),
    ("http://[::ffff:169.254.169.254]/",
     "::ffff:169.254.169.254 is a cloud metadata address (169.254.169.254, embedded)"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is a private address (10.0.0.1, embedded)"),
    ("http://[2002:a9fe:a9fe::1]/",
     "2002:a9fe:a9fe::1 is a cloud metadata address (169.254.169.254, embedded)"),
    ("http://[64:ff9b::a9fe:a9fe]/",
     "64:ff9b::a9fe:a9fe is a cloud metadata address (169.254.169.254, embedded)"),
    ("http://metadata.google.internal/computeMetadata/v1/",
     "metadata.google.internal is a cloud metadata service"),
    ("http://METADATA/", "metadata is a cloud metadata service"),
    ("http://instance-data/latest/", "instance-data is a cloud metadata service"),
    ("http://nowhere.invalid/hook", "the host nowhere.invalid does not resolve"),
    ("http://user:secret@127.0.0.1:9/hook", "a webhook URL may not carry a user name or password"),
]
NOT_HTTP = ["ftp://example.com/x", "not a url", "http:///nohost", "http://127.0.0.1:99999/",
            "javascript:alert(1)", "http://127.0.0.1:9/a b"]
# Loopback in every form a resolver accepts: allowed by default, refused when the setting is empty.
LOOPBACK = [
    ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
    ("http://localhost:9/hook", "localhost resolves to 127.0.0.1, a loopback address"),
    ("http://[::1]:9/hook", "::1 is a loopback address"),
    ("http://2130706433:9/hook", "2130706433 resolves to 127.0.0.1, a loopback address"),
    ("http://0x7f.1:9/hook", "0x7f.1 resolves to 127.0.0.1, a loopback address"),
    ("http://017700000001:9/hook", "017700000001 resolves to 127.0.0.1, a loopback address"),
    ("http://127.1:9/hook", "127.1 resolves to 127.0.0.1, a loopback address"),
    ("http://[::ffff:127.0.0.1]:9/hook",
     "::ffff:127.0.0.1 is a loopback address (127.0.0.1, embedded)"),
]
KEPT = "http://127.0.0.1:9/kept"
PUBLIC = "https://9.9.9.9/kept"   # a public address (set, never sent to: nothing is queued here)


def refused(field: str, why: str) -> str:
    return f"{field} refused: {why}{TAIL}"


def webhook_events(org) -> int:
    return AuditEvent.select().where(AuditEvent.org == org.org.id, AuditEvent.action.in_((
        "veriff.integration.webhooks", "attestr.client.created",
        "attestr.client.updated"))).count()


def refused_everywhere(client, runner, org, url: str, message, kept: str = KEPT) -> None:
    """``url`` is refused by every place a webhook URL is set; ``message(field)`` is the
    message; nothing is changed or created by any of them (the URLs set before, ``kept``,
    stay)."""
    integ = Integration(org.org)
    client_ = clients.create_client(org.org, name="kept", services=("PAN",), webhook_url=kept)
    path = f"/ledger/v1/veriff/integrations/{integ.id}"
    assert client.patch(path, headers=org.headers(), json={
        "event_webhook_url": kept, "decision_webhook_url": kept}).status_code == 200
    before = webhook_events(org)

    for field in ("event_webhook_url", "decision_webhook_url"):
        r = client.patch(path, headers=org.headers(), json={field: url})
        assert (r.status_code, r.json) == (422, {
            "code": 422, "status": "Unprocessable Entity", "message": message(field)})
    assert client.get(path, headers=org.headers()).json["event_webhook_url"] == kept

    for option, field in (("--event-url", "event_webhook_url"),
                          ("--decision-url", "decision_webhook_url")):
        out = runner.invoke(args=["veriff", "webhooks", "--org", org.slug, integ.id, option, url])
        assert (out.exit_code, out.output) == (1, f"Error: {message(field)}\n")
        integrations = VeriffIntegration.select().count()
        out = runner.invoke(args=["veriff", "integration-create", "--org", org.slug, option, url])
        assert (out.exit_code, out.output) == (1, f"Error: {message(field)}\n")
        assert VeriffIntegration.select().count() == integrations   # nothing half made
    row = VeriffIntegration.get(VeriffIntegration.integration == integ.id)
    assert (row.event_url, row.decision_url) == (kept, kept)

    clients_before = AttestrClient.select().count()
    out = runner.invoke(args=["attestr", "client-create", "--org", org.slug, "--webhook-url", url])
    assert (out.exit_code, out.output) == (1, f"Error: {message('webhook_url')}\n")
    assert AttestrClient.select().count() == clients_before
    out = runner.invoke(args=["attestr", "client-update", "--org", org.slug, client_.client.
                              credential_id, "--webhook-url", url])
    assert (out.exit_code, out.output) == (1, f"Error: {message('webhook_url')}\n")
    assert clients.find(client_.client.credential_id).webhook_url == kept
    assert webhook_events(org) == before


@pytest.mark.parametrize("url, why", REFUSED, ids=[u for u, _ in REFUSED])
def test_refused_where_every_url_is_set(client, runner, org, url, why):
    refused_everywhere(client, runner, org, url, lambda field: refused(field, why))


@pytest.mark.parametrize("url", NOT_HTTP)
def test_not_an_http_url(client, runner, org, url):
    refused_everywhere(client, runner, org, url, lambda field: f"{field} must be an http(s) URL")


def test_seed_demo_refuses_too(app, runner):
    out = runner.invoke(args=["seed-demo", "--json", "--veriff-decision-url",
                              "http://169.254.169.254/"])
    assert (out.exit_code, out.output.splitlines()[-1]) == (1, "Error: " + refused(
        "decision_webhook_url", "169.254.169.254 is a cloud metadata address"))
    assert VeriffIntegration.select().count() == 0


def test_loopback_is_allowed_by_default_in_every_form(client, runner, org):
    integ = Integration(org.org)
    path = f"/ledger/v1/veriff/integrations/{integ.id}"
    for url, _ in LOOPBACK:
        r = client.patch(path, headers=org.headers(), json={"event_webhook_url": url})
        assert (r.status_code, r.json["event_webhook_url"]) == (200, url)
        out = runner.invoke(args=["attestr", "client-create", "--org", org.slug,
                                  "--webhook-url", url])
        assert out.exit_code == 0 and json.loads(out.output)["webhook_url"] == url


# -- the setting ------------------------------------------------------------------------------------

def make_app(database_url, networks):
    application = create_app({
        "TESTING": True, "CONSENT_DATABASE_URL": database_url,
        "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "CONSENT_PUBLIC_URL": "http://consent.test", "CONSENT_WEBHOOK_ALLOW_NETWORKS": networks})
    with application.app_context():
        storage.create_tables()
    application.test_client_class = ContractClient
    return application


@pytest.fixture
def configured(database_url, request):
    application = make_app(database_url, request.param)
    with application.app_context():
        yield application, OrgFixture("acme")
    application.extensions["consent.background"].stop()
    if storage.db.obj is not None and not storage.db.is_closed():
        storage.db.close()


@pytest.mark.parametrize("configured", [""], indirect=True)
@pytest.mark.parametrize("url, why", LOOPBACK, ids=[u for u, _ in LOOPBACK])
def test_public_only_refuses_loopback_in_every_form(configured, url, why):
    application, org = configured
    refused_everywhere(application.test_client(), application.test_cli_runner(), org, url,
                       lambda field: refused(field, why), kept=PUBLIC)


@pytest.mark.parametrize("configured", ["10.0.0.0/8, 192.168.1.0/24"], indirect=True)
def test_the_operator_allows_networks(configured):
    application, org = configured
    client, runner = application.test_client(), application.test_cli_runner()
    integ = Integration(org.org)
    path = f"/ledger/v1/veriff/integrations/{integ.id}"
    for url in ("http://10.0.0.1/hook", "https://192.168.1.20/hook", "http://[::ffff:10.1.2.3]/"):
        r = client.patch(path, headers=org.headers(), json={"decision_webhook_url": url})
        assert (r.status_code, r.json["decision_webhook_url"]) == (200, url)
        out = runner.invoke(args=["attestr", "client-create", "--org", org.slug,
                                  "--webhook-url", url])
        assert out.exit_code == 0 and json.loads(out.output)["webhook_url"] == url
    # Only those: loopback is no longer listed, another private network never was.
    for url, why in (("http://192.168.2.1/", "192.168.2.1 is a private address"),
                     ("http://127.0.0.1:9/", "127.0.0.1 is a loopback address")):
        r = client.patch(path, headers=org.headers(), json={"decision_webhook_url": url})
        assert (r.status_code, r.json["message"]) == (
            422, refused("decision_webhook_url", why))


def test_a_bad_setting_stops_the_app_with_its_name(database_url):
    with pytest.raises(ValueError, match="CONSENT_WEBHOOK_ALLOW_NETWORKS: not an IP network: "
                                         "'10.0.0.0/33'"):
        make_app(database_url, "127.0.0.0/8 10.0.0.0/33")
