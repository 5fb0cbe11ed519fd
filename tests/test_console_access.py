"""The console's sign-in, sessions, CSRF and organisation scope, over HTTP (test client), with a
real SMTP server on loopback for the e-mailed link."""
from __future__ import annotations

import datetime as dt
import email
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest

from consent.console.models import ConsoleDay
from consent.core import auth, tokens
from consent.core.storage import Consent, OutboxMessage
from tests.console_helpers import csrf_of, link_for, make_operator, sign_in





@pytest.fixture
def ops(app, org):
    return make_operator(org.org.id)


def _cookie(response) -> SimpleCookie:
    jar = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        jar.load(header)
    return jar


def _link_parts(link: str) -> tuple[str, str]:
    parts = urlsplit(link)
    return parts.path, parts.query.split("t=", 1)[1]


def _later(monkeypatch, seconds: float) -> None:
    """Move itsdangerous' clock and the stored expiry times' clock forward."""
    real = tokens.ClockSigner.get_timestamp
    monkeypatch.setattr(tokens.ClockSigner, "get_timestamp",
                        lambda self: real(self) + int(seconds))
    now = auth.utcnow
    monkeypatch.setattr(auth, "utcnow", lambda: now() + dt.timedelta(seconds=seconds))


# -- not signed in ---------------------------------------------------------------------------------

def test_every_view_sends_a_visitor_to_sign_in(client, org):
    for path in ("/console/", "/console/o/acme/", "/console/o/acme/consents",
                 "/console/o/nobody/"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith("/console/sign-in")
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    assert b"Send me a sign-in link" in page.data
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert b"<script>" not in page.data and b"style=" not in page.data


def test_a_form_post_without_a_session_changes_nothing(client, org, ops):
    response = client.post("/console/o/acme/sign-out", data={})
    assert response.status_code == 303     # to sign-in: nobody to sign out


# -- sign-in links -----------------------------------------------------------------------------------

def test_a_link_signs_in_once_with_a_strict_cookie(app, client, org, ops):
    path, token = _link_parts(link_for(app, "ops@example.com"))
    shown = client.get(f"{path}?t={token}")
    assert shown.status_code == 200
    assert b"Sign in as ops@example.com" in shown.data
    assert "Set-Cookie" not in shown.headers            # opening the link signs nobody in
    signed = client.post(path, data={"t": token})
    assert signed.status_code == 303
    assert signed.headers["Location"].endswith("/console/o/acme/")
    header = signed.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/console" in header
    assert "Secure" not in header                        # served over http
    overview = client.get("/console/o/acme/")
    assert overview.status_code == 200
    assert b"ops@example.com" in overview.data
    # the session is an operator token, stored hashed, listed for the organisation
    [listed] = auth.member_tokens(org.org.id, email="ops@example.com")
    cookie = _cookie(signed)["console_session"].value
    assert auth.sha256_hex(cookie) != cookie
    assert auth.session_for_token(app.config["SECRET_KEY"], cookie, 10 ** 7).id == listed["id"]
    # the sign-in is in the organisation's chain, naming the operator and the token
    from consent.core.storage import AuditEvent
    [event] = AuditEvent.select().where(AuditEvent.org == org.org.id,
                                        AuditEvent.action == "console.signed_in")
    assert event.actor == "console:ops@example.com" and event.entity_id == listed["id"]
    # the same link again: used
    again = client.post(path, data={"t": token})
    assert again.status_code == 410
    assert b"used already" in again.data


def test_the_cookie_is_secure_behind_https(app, client, org, ops):
    app.config["CONSENT_PUBLIC_URL"] = "https://consent.example"
    path, token = _link_parts(link_for(app, "ops@example.com"))
    signed = client.post(path, data={"t": token})
    assert signed.status_code == 303
    assert "Secure" in signed.headers["Set-Cookie"]


def test_an_expired_a_tampered_and_a_foreign_link(app, client, org, ops, monkeypatch):
    path, token = _link_parts(link_for(app, "ops@example.com"))
    assert client.get(f"{path}?t={token[:-2]}xx").status_code == 403
    assert client.post(path, data={"t": "nonsense"}).status_code == 403
    assert client.get(path).status_code == 403
    # signed with the same key under another purpose (a session token): not a link
    session = auth.issue_session_token(app.config["SECRET_KEY"], ops, 60, 3600)
    assert client.post(path, data={"t": session}).status_code == 403
    _later(monkeypatch, 16 * 60)
    expired = client.post(path, data={"t": token})
    assert expired.status_code == 410
    assert b"expired" in expired.data
    assert "Set-Cookie" not in expired.headers


def test_a_link_from_another_site_is_refused(app, client, org, ops):
    path, token = _link_parts(link_for(app, "ops@example.com"))
    refused = client.post(path, data={"t": token}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert client.post(path, data={"t": token}).status_code == 303   # still unused


def test_the_link_is_emailed_over_smtp_and_kept_masked(app, client, org, ops, smtp):
    app.config["CONSENT_SMTP_URL"] = smtp.url
    app.config["CONSENT_MAIL_FROM"] = "console@acme.test"
    page = client.post("/console/sign-in", data={"email": "OPS@example.com"})
    assert page.status_code == 200
    assert b"Check your e-mail" in page.data
    [envelope] = smtp.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    message = email.message_from_bytes(envelope.content)
    body = message.get_payload(decode=True).decode()
    link = next(word for word in body.split() if "/console/sign-in/link?t=" in word)
    path, token = _link_parts(link)
    assert client.post(path, data={"t": token}).status_code == 303
    assert client.get("/console/o/acme/").status_code == 200
    [kept] = OutboxMessage.select()
    assert kept.to_masked == "o***@example.com" and kept.to_address is None
    assert token not in kept.body_text and "t=***" in kept.body_text
    assert kept.status == "sent" and kept.transport == "smtp"


def test_an_address_that_is_no_operator_gets_the_same_page_and_no_mail(app, client, org, smtp):
    app.config["CONSENT_SMTP_URL"] = smtp.url
    page = client.post("/console/sign-in", data={"email": "stranger@example.com"})
    assert page.status_code == 200
    assert b"Check your e-mail" in page.data
    assert smtp.messages == [] and OutboxMessage.select().count() == 0


def test_without_a_mail_server_the_page_says_so(client, org, ops):
    page = client.post("/console/sign-in", data={"email": "ops@example.com"})
    assert page.status_code == 503
    assert b"console-link" in page.data
    assert OutboxMessage.select().count() == 0
    bad = client.post("/console/sign-in", data={"email": "not an address"})
    assert bad.status_code == 422
    assert b'aria-invalid="true"' in bad.data


def test_console_link_prints_a_working_link(app, client, runner, org, ops):
    result = runner.invoke(args=["console-link", "--email", "ops@example.com"])
    assert result.exit_code == 0, result.output
    link = next(line for line in result.output.splitlines() if "/console/sign-in/link" in line)
    assert link.startswith("http://consent.test/console/sign-in/link?t=")
    path, token = _link_parts(link)
    assert client.post(path, data={"t": token}).status_code == 303
    missing = runner.invoke(args=["console-link", "--email", "nobody@example.com"])
    assert missing.exit_code != 0
    assert "not a member" in missing.output


# -- sessions ----------------------------------------------------------------------------------------

def test_sign_out_revokes_the_session(app, client, org, ops):
    sign_in(client, app)
    page = client.get("/console/o/acme/")
    cookie = client.get_cookie("console_session", path="/console").value
    out = client.post("/console/o/acme/sign-out", data={"csrf": csrf_of(page.data)})
    assert out.status_code == 303
    assert "console_session=;" in out.headers["Set-Cookie"]
    client.set_cookie("console_session", cookie, path="/console")   # kept by a thief
    assert client.get("/console/o/acme/").status_code == 303
    [token] = auth.member_tokens(org.org.id, email="ops@example.com")
    assert token["status"] == "revoked"


def test_a_session_expires(app, client, org, ops, monkeypatch):
    sign_in(client, app)
    assert client.get("/console/o/acme/").status_code == 200
    _later(monkeypatch, app.config["CONSENT_CONSOLE_SESSION_SECONDS"] + 60)
    assert client.get("/console/o/acme/").status_code == 303


def test_a_removed_member_is_signed_out_on_the_next_request(app, client, org, ops):
    sign_in(client, app)
    assert client.get("/console/o/acme/").status_code == 200
    auth.remove_member(org.org.id, ops.id, actor="test")
    response = client.get("/console/o/acme/")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/console/sign-in")


def test_a_token_revoked_for_the_organisation_signs_out(app, client, org, ops):
    sign_in(client, app)
    [token] = auth.member_tokens(org.org.id, email="ops@example.com")
    auth.revoke_token_for_org(org.org.id, token["id"], actor="test")
    assert client.get("/console/o/acme/").status_code == 303


# -- CSRF ----------------------------------------------------------------------------------------------

def test_forms_need_their_own_sessions_token(app, client, org, other_org, ops):
    sign_in(client, app)
    own = csrf_of(client.get("/console/o/acme/").data)
    assert client.post("/console/o/acme/sign-out", data={}).status_code == 403
    assert client.post("/console/o/acme/sign-out", data={"csrf": "x" + own}).status_code == 403
    # another session's token (the same operator signed in elsewhere)
    second = app.test_client()
    sign_in(second, app)
    theirs = csrf_of(second.get("/console/o/acme/").data)
    refused = client.post("/console/o/acme/sign-out", data={"csrf": theirs})
    assert refused.status_code == 403
    assert b"not sent from this session" in refused.data
    cross = client.post("/console/o/acme/sign-out", data={"csrf": own},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.get("/console/o/acme/").status_code == 200          # still signed in


# -- organisations ---------------------------------------------------------------------------------------

def test_the_switcher_goes_only_where_the_operator_is_a_member(app, client, org, other_org, ops):
    third = type(org)("initech")
    make_operator(other_org.org.id)
    sign_in(client, app)
    page = client.get("/console/o/acme/")
    assert b'id="org-switch"' in page.data and b"Org globex" in page.data
    assert b"Org initech" not in page.data
    csrf = csrf_of(page.data)
    moved = client.post("/console/o/acme/switch", data={"csrf": csrf, "to": "globex"})
    assert moved.status_code == 303 and moved.headers["Location"].endswith("/console/o/globex/")
    assert client.get("/console/o/globex/").status_code == 200
    refused = client.post("/console/o/acme/switch", data={"csrf": csrf, "to": third.slug})
    assert refused.status_code == 403
    assert client.get(f"/console/o/{third.slug}/").status_code == 404
    assert client.get("/console/o/no-such-org/").status_code == 404


# -- the overview's counts ---------------------------------------------------------------------------------

def test_the_overview_counts_each_organisations_own_consents(app, client, org, other_org, ops):
    for subject, purpose, status in (("u1", "marketing", "granted"), ("u2", "marketing", "denied"),
                                     ("u3", "analytics", "granted")):
        assert client.post("/ledger/v1/consents", headers=org.headers(), json={
            "subject": subject, "purpose": purpose, "status": status}).status_code == 201
    granted = client.get("/ledger/v1/consents?subject=u1", headers=org.headers()).json
    consent_id = granted["items"][0]["id"] if "items" in granted else granted[0]["id"]
    assert client.post(f"/ledger/v1/consents/{consent_id}/withdraw", headers=org.headers(),
                       json={}).status_code in (200, 201)
    for n in range(5):
        client.post("/ledger/v1/consents", headers=other_org.headers(), json={
            "subject": f"g{n}", "purpose": "zz-globex-only", "status": "granted"})
    sign_in(client, app)
    page = client.get("/console/o/acme/").data.decode()
    assert '<p class="big">4</p>' in page                       # 3 decisions + 1 withdrawal
    assert "zz-globex-only" not in page
    assert "<th scope=\"row\">marketing</th><td class=\"num\">1</td><td class=\"num\">1</td>" \
           "<td class=\"num\">1</td>" in page
    assert "granted: 2; denied: 1; withdrawn: 1" in page
    counts = [r.count for r in ConsoleDay.select().where(ConsoleDay.org == org.org.id)]
    assert sum(counts) == Consent.select().where(Consent.org == org.org.id).count() == 4


def test_the_overview_counts_consents_by_the_dialect_that_records_their_source(app, client,
                                                                              org, ops):
    """truConsent's consents carry its own sources (api, sdk, consent_link...), Veriff's
    "veriff": each is counted under its dialect (``Dialect.sources``); a source no dialect names
    is "other"."""
    from consent.core import ledger

    for subject, source in (("a", "api"), ("b", "sdk"), ("c", "veriff"), ("d", "ledger"),
                            ("e", "zz-somewhere")):
        ledger.record_one(org.org.id, ledger.Decision(subject=subject, purpose="p",
                                                      status="granted", source=source))
    sign_in(client, app)
    page = client.get("/console/o/acme/").data.decode()
    assert "Consents per day, by dialect" in page
    legend = page[page.index('<ul class="legend">'):]
    legend = legend[:legend.index("</ul>")]
    for name, n in (("truconsent", 2), ("veriff", 1), ("ledger", 1), ("other", 1)):
        assert f'{name} <span class="muted">({n})</span>' in legend, (name, legend)
    assert "zz-somewhere" not in legend and ">api" not in legend
