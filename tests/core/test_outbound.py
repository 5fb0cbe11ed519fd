"""Each delivery checks where it goes again (issue 16, item 2), against real receivers on loopback:
the host is resolved once and the connection made to the address checked (a name that now
resolves elsewhere, DNS rebinding, is a failed attempt saying why, with nothing connected); https
verifies the certificate against the URL's host; a redirect is a failed attempt whose Location is
never fetched; only a short excerpt of a 2xx/4xx/5xx answer is kept.

Names are answered by a stand-in for the resolver (``socket.getaddrinfo``, the one lookup the
sender makes), so a test controls what ``hooks.test`` resolves to and when; every connection
still goes over real sockets to real servers."""
from __future__ import annotations

import socket
import ssl
import time

import pytest
import trustme

from consent.core import outbound, outbox, storage
from consent.core.storage import WebhookAttempt, WebhookDelivery
from tests.receiver import Receiver


@pytest.fixture(autouse=True)
def fast_retries(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=2, backoff_base=0.05, backoff_cap=0.2, timeout=5, poll_interval=0.05))


class Resolver:
    """What names resolve to: ``answers[name]`` is a list of addresses, or a function giving one
    per lookup; every lookup of those names is counted in ``asked``. Other names resolve as
    usual."""

    def __init__(self, monkeypatch):
        self.answers: dict = {}
        self.asked: list[str] = []
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host not in self.answers:
                return real(host, port, *args, **kwargs)
            self.asked.append(host)
            found = self.answers[host]
            found = found() if callable(found) else found
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                    else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in found]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def resolver(monkeypatch):
    return Resolver(monkeypatch)


@pytest.fixture
def connections(monkeypatch):
    """Every outgoing TCP connection the sender opens: (address, port)."""
    made = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        made.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return made


def queue(org, url, body='{"event":"x"}', reference="ref-1", **headers):
    with storage.transaction():
        return outbox.enqueue(org.org.id, topic="test.event", url=url, body=body,
                              headers={"Content-Type": "application/json", **headers},
                              reference=reference)


def wait_status(delivery_id, status, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = WebhookDelivery.get_by_id(delivery_id)
        if row.status == status:
            return row
        time.sleep(0.02)
    raise AssertionError(f"delivery {delivery_id} is {row.status}, not {status}")


def attempt_log(delivery_id):
    return list(WebhookAttempt.select().where(WebhookAttempt.delivery == delivery_id)
                .order_by(WebhookAttempt.id))


# -- redirects and excerpts -----------------------------------------------------------------------

def test_a_redirect_is_a_failed_attempt_and_its_location_is_never_fetched(client, org):
    with Receiver() as internal, \
            Receiver(statuses=[302, 307], location=internal.url + "/latest/meta-data",
                     body=b"moved") as redirecting:
        delivery_id = queue(org, redirecting.url + "/hook")
        row = wait_status(delivery_id, "failed")
        assert len(redirecting.received) == 2
        assert internal.received == []
    assert (row.last_status_code, row.last_error) == (307, "redirect not followed (HTTP 307)")
    assert [(a.status_code, a.error, a.response_excerpt) for a in attempt_log(delivery_id)] == [
        (302, "redirect not followed (HTTP 302)", None),
        (307, "redirect not followed (HTTP 307)", None)]
    detail = client.get(f"/ledger/v1/webhooks/{delivery_id}", headers=org.headers()).json
    assert [a["error"] for a in detail["attempt_log"]] == [
        "redirect not followed (HTTP 302)", "redirect not followed (HTTP 307)"]
    assert "meta-data" not in str(detail["attempt_log"])


def test_only_a_short_excerpt_of_an_answer_is_kept(org):
    answer = ("é" + "x" * 1000).encode()
    with Receiver(statuses=[500, 404], body=answer) as rx:
        failed = queue(org, rx.url)
        wait_status(failed, "failed")
    with Receiver(statuses=[201], body=answer) as rx:
        delivered = queue(org, rx.url)
        wait_status(delivered, "delivered")
    kept = answer[:outbound.EXCERPT_BYTES].decode()
    assert outbound.EXCERPT_BYTES == 256 and len(kept) == 255
    assert [(a.status_code, a.error, a.response_excerpt) for a in attempt_log(failed)] == [
        (500, "HTTP 500", kept), (404, "HTTP 404", kept)]
    assert [(a.status_code, a.error, a.response_excerpt) for a in attempt_log(delivered)] == [
        (201, None, kept)]


# -- where the connection goes ---------------------------------------------------------------------

def test_the_connection_goes_to_the_address_checked(org, resolver, connections):
    with Receiver() as rx:
        # The first lookup answers the receiver; any later one an address that is refused: a
        # sender that looked the name up again to connect would go there instead.
        answers = iter([["127.0.0.1"]])
        resolver.answers["hooks.test"] = lambda: next(answers, ["169.254.169.254"])
        delivery_id = queue(org, f"http://hooks.test:{rx.port}/hook?x=1")
        [got] = rx.wait_for(1)
        row = wait_status(delivery_id, "delivered")
    assert got.path == "/hook?x=1" and got.headers["host"] == f"hooks.test:{rx.port}"
    assert resolver.asked == ["hooks.test"] and connections == [("127.0.0.1", rx.port)]
    assert row.attempts == 1 and row.last_status_code == 200


def test_dns_rebinding_is_a_failed_attempt_saying_why(client, runner, org, resolver,
                                                      connections):
    """A name that resolved to an allowed address when the URL was set, and to a refused one
    when the webhook goes: nothing is connected, every attempt says why."""
    with Receiver() as rx:
        resolver.answers["hooks.test"] = ["127.0.0.1"]
        made = runner.invoke(args=["attestr", "client-create", "--org", org.slug, "--service",
                                   "PAN", "--webhook-url", f"http://hooks.test:{rx.port}/a"])
        assert made.exit_code == 0, made.output
        resolver.answers["hooks.test"] = ["127.0.0.1", "169.254.169.254"]   # rebound
        delivery_id = queue(org, f"http://hooks.test:{rx.port}/a")
        row = wait_status(delivery_id, "failed")
        assert rx.received == []
    why = ("refused, nothing sent: hooks.test resolves to 169.254.169.254, a cloud metadata "
           "address")
    assert (row.last_status_code, row.last_error) == (None, why)
    assert [(a.status_code, a.error, a.response_excerpt) for a in attempt_log(delivery_id)] == [
        (None, why, None)] * 2
    assert connections == []
    shown = client.get(f"/ledger/v1/webhooks/{delivery_id}", headers=org.headers()).json
    assert shown["last_error"] == why


@pytest.mark.parametrize("url, why", [
    ("http://10.0.0.1:9/hook", "10.0.0.1 is a private address"),
    ("http://[::ffff:169.254.169.254]:9/", "::ffff:169.254.169.254 is a cloud metadata address "
                                           "(169.254.169.254, embedded)"),
    ("http://metadata.google.internal/x", "metadata.google.internal is a cloud metadata service"),
    ("http://nowhere.invalid/hook", "the host nowhere.invalid does not resolve"),
    ("http://user:pw@127.0.0.1:9/hook", "a webhook URL may not carry a user name or password"),
])
def test_a_url_refused_at_delivery_connects_nowhere(org, connections, url, why):
    """A URL queued before it was checked (or set before this version) is checked as it goes."""
    delivery_id = queue(org, url)
    row = wait_status(delivery_id, "failed")
    assert row.last_error == f"refused, nothing sent: {why}" and connections == []


def test_a_setting_changed_since_is_applied_at_delivery(org, connections):
    """The URL was allowed when set (loopback, the default); the operator then allowed only
    public addresses: the next attempt is refused."""
    with Receiver() as rx:
        outbound.configure("")
        try:
            delivery_id = queue(org, rx.url + "/hook")
            row = wait_status(delivery_id, "failed")
        finally:
            outbound.configure(outbound.DEFAULT_ALLOW)
        assert rx.received == []
    assert row.last_error == "refused, nothing sent: 127.0.0.1 is a loopback address"
    assert connections == []


# -- https ------------------------------------------------------------------------------------------

@pytest.fixture
def authority(monkeypatch):
    """A certificate authority the sender trusts (instead of the system's)."""
    ca = trustme.CA()
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    monkeypatch.setattr(outbound, "TLS", trusting)
    return ca


def tls_server(ca, name):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


def test_https_goes_to_the_checked_address_and_verifies_the_hosts_certificate(
        org, resolver, authority, connections):
    resolver.answers["hooks.test"] = ["127.0.0.1"]
    with Receiver(tls=tls_server(authority, "hooks.test")) as rx:
        delivery_id = queue(org, f"https://hooks.test:{rx.port}/secure")
        [got] = rx.wait_for(1)
        wait_status(delivery_id, "delivered")
    assert got.path == "/secure" and got.headers["host"] == f"hooks.test:{rx.port}"
    assert rx.server_names == ["hooks.test"]           # TLS asked for the URL's host (SNI)
    assert connections == [("127.0.0.1", rx.port)]


def test_https_refuses_a_certificate_for_another_name(org, resolver, authority):
    resolver.answers["hooks.test"] = ["127.0.0.1"]
    with Receiver(tls=tls_server(authority, "other.test")) as rx:
        delivery_id = queue(org, f"https://hooks.test:{rx.port}/secure")
        row = wait_status(delivery_id, "failed")
        assert rx.received == []
    assert row.last_status_code is None
    assert row.last_error.startswith("SSLCertVerificationError: ")
    assert "hooks.test" in row.last_error
