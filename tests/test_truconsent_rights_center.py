"""truConsent's rights center API at the HTTP level, as truKIT's RightsCenterApi sends it
(rightsCenterApi.ts: Content-Type, X-API-Key, X-Org-Id, X-User-Id when a user is known, and
Authorization: Bearer once the phone + OTP flow gave a token): settings per asset, rights
requests, the DPO, nominees, grievance tickets and their messages, phone + OTP (rate limit,
attempts, expiry, the token on later calls), another organisation's rows out of reach, and the
dialect's part in erasure and the access report."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from consent.core import audit, mailbox, rights, verify
from consent.core.storage import AuditEvent, RightsRequest
from consent.dialects.truconsent import rights_center as rc
from consent.dialects.truconsent.models import TcAccessOtp, TcGrievance, TcNominee
from tests.truconsent_helpers import bearer, make_cp, move_clock

RC = "/api/v1/internal"
ADMIN = "/ledger/v1/truconsent"
PHONE = "+919876543210"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def sdk(org, user_id=None, token=None, key=None) -> dict:
    """RightsCenterApi.getHeaders() for an /api/v1/internal path outside consent/banners/sdk."""
    headers = {"Content-Type": "application/json", "X-API-Key": key or org.consent_key,
               "X-Org-Id": org.slug}
    if user_id:
        headers["X-User-Id"] = user_id
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def detail(message):
    return {"detail": message}


def field_error(loc, msg, kind):
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


def _events(org, action):
    return list(AuditEvent.select().where(AuditEvent.org == org.org.id,
                                          AuditEvent.action == action))


# -- settings ------------------------------------------------------------------------------------

DEFAULTS = {**rc.DEFAULTS, "show_dpo_section": False}


def test_settings_defaults_then_the_organisations_then_the_assets(client, org, runner):
    cpf = make_cp(org.org)
    asset = cpf.asset
    r = client.get(f"{RC}/rights-center/settings/global", headers=sdk(org))
    assert r.status_code == 200
    assert r.json == {**DEFAULTS, "asset_id": None}
    r = client.put(f"{ADMIN}/rights-center/settings", headers=org.headers(),
                   json={"access_mode": "non_sso", "button_color": "#111111"})
    assert r.status_code == 200, r.json
    assert r.json["settings"] == {"access_mode": "non_sso", "button_color": "#111111"}
    r = client.put(f"{ADMIN}/assets/{asset.display_id}/rights-center/settings",
                   headers=org.headers(), json={"button_color": "#222222",
                                                "show_transparency_section": True})
    assert r.status_code == 200, r.json
    r = client.get(f"{RC}/rights-center/settings/global?asset_id={asset.id}", headers=sdk(org))
    assert r.status_code == 200
    assert r.json == {**DEFAULTS, "access_mode": "non_sso", "button_color": "#222222",
                      "show_transparency_section": True, "asset_id": asset.id}
    # the organisation's alone for another asset, and without one
    other = make_cp(org.org, title="Other").asset
    r = client.get(f"{RC}/rights-center/settings/global?asset_id={other.display_id}",
                   headers=sdk(org))
    assert r.json == {**DEFAULTS, "access_mode": "non_sso", "button_color": "#111111",
                      "asset_id": other.id}
    r = client.get(f"{RC}/rights-center/settings/global?asset_id=nope", headers=sdk(org))
    assert (r.status_code, r.json) == (404, detail("Asset not found"))
    # unknown keys and bad values refused (the service's shape), nothing changed
    r = client.put(f"{ADMIN}/rights-center/settings", headers=org.headers(),
                   json={"access_mode": "sometimes", "colour": "x"})
    assert r.status_code == 422
    assert set(r.json["errors"]["json"]) == {"access_mode", "colour"}
    # a DPO on file shows the DPO section unless a setting says otherwise
    client.put(f"{ADMIN}/dpo", headers=org.headers(), json={"full_name": "Asha Rao",
                                                           "email": "dpo@acme.example"})
    r = client.get(f"{RC}/rights-center/settings/global", headers=sdk(org))
    assert r.json["show_dpo_section"] is True
    # the CLI: show, then replace ({} clears)
    result = runner.invoke(args=["truconsent", "rights-center", "settings", "--org", "acme",
                                 "--json", "{}"])
    assert result.exit_code == 0, result.output
    r = client.get(f"{RC}/rights-center/settings/global", headers=sdk(org))
    assert r.json == {**DEFAULTS, "show_dpo_section": True, "asset_id": None}
    result = runner.invoke(args=["truconsent", "rights-center", "settings", "--org", "acme",
                                 "--json", '{"access_mode": "maybe"}'])
    assert result.exit_code == 1 and "access_mode" in result.output
    assert len(_events(org, "truconsent.rights_center.settings")) == 3


# -- DPO -----------------------------------------------------------------------------------------

def test_dpo(client, org, other_org, runner):
    r = client.get(f"{RC}/dpo", headers=sdk(org))
    assert (r.status_code, r.json) == (404, detail("DPO information not found"))
    r = client.put(f"{ADMIN}/dpo", headers=org.headers(), json={
        "full_name": "Asha Rao", "email": "dpo@acme.example", "appointment_date": "2024-04-01",
        "working_hours": "Mon-Fri 9-5", "response_time": "Within 7 days"})
    assert r.status_code == 200, r.json
    expected = {"full_name": "Asha Rao", "email": "dpo@acme.example",
                "appointment_date": "2024-04-01", "qualifications": None,
                "responsibilities": None, "working_hours": "Mon-Fri 9-5",
                "response_time": "Within 7 days"}
    r = client.get(f"{RC}/dpo", headers=sdk(org))
    assert (r.status_code, r.json) == (200, expected)
    r = client.get(f"{RC}/dpo", headers=sdk(other_org))
    assert r.status_code == 404
    r = client.put(f"{ADMIN}/dpo", headers=org.headers(), json={"full_name": "x",
                                                                "email": "not an email"})
    assert r.status_code == 422 and "email" in r.json["errors"]["json"]
    result = runner.invoke(args=["truconsent", "rights-center", "dpo", "--org", "acme",
                                 "--full-name", "Ravi K", "--email", "ravi@acme.example"])
    assert result.exit_code == 0, result.output
    r = client.get(f"{RC}/dpo", headers=sdk(org))
    assert r.json["full_name"] == "Ravi K" and r.json["working_hours"] is None
    [event] = _events(org, "truconsent.dpo.set")[-1:]
    assert "Ravi" not in str(event.payload)


# -- rights requests -----------------------------------------------------------------------------

def test_deletion_and_access_requests_become_rights_requests(client, org):
    body = {"user_id": "user-1", "reason": "User requested data deletion from Rights Center",
            "metadata": {"asset_id": "AS001", "requested_at": "2025-01-01T00:00:00.000Z",
                         "source": "Rights Center"}}
    r = client.post(f"{RC}/rights-requests/deletion-request", headers=sdk(org, "user-1"),
                    json=body)
    assert r.status_code == 200, r.json
    got = r.json
    assert got == {"success": True, "id": got["id"], "request_id": got["id"],
                   "request_type": "deletion", "user_id": "user-1", "status": "received",
                   "due_at": got["due_at"], "created_at": got["created_at"],
                   "message": "Deletion request submitted successfully"}
    assert ISO.match(got["due_at"]) and ISO.match(got["created_at"])
    stored = rights.get_request(org.org.id, got["id"])
    assert (stored.kind, stored.identifier, stored.source, stored.reason, stored.metadata) == (
        "erasure", "user-1", "truconsent", body["reason"], body["metadata"])
    r = client.post(f"{RC}/rights-requests/access-request", headers=sdk(org, "user-1"), json={
        "user_id": "user-1", "subject": "Data Access Request",
        "description": "User requested access to personal data from Rights Center.",
        "metadata": {"asset_id": "AS001", "source": "Rights Center"}})
    assert r.status_code == 200, r.json
    assert (r.json["request_type"], r.json["message"]) == (
        "access", "Access request submitted successfully")
    stored = rights.get_request(org.org.id, r.json["id"])
    assert (stored.kind, stored.reason, stored.metadata) == (
        "access", "User requested access to personal data from Rights Center.",
        {"subject": "Data Access Request",
         "metadata": {"asset_id": "AS001", "source": "Rights Center"}})
    for action in ("rights.received",):
        for event in _events(org, action):
            assert "user-1" not in str(event.payload)
    r = client.post(f"{RC}/rights-requests/deletion-request", headers=sdk(org), json={})
    assert (r.status_code, r.json) == (422, field_error(["body", "user_id"], "Field required",
                                                        "missing"))
    r = client.post(f"{RC}/rights-requests/access-request", headers=sdk(org),
                    json={"user_id": "u", "metadata": "x"})
    assert (r.status_code, r.json) == (422, field_error(
        ["body", "metadata"], "Input should be a valid dictionary", "dict_type"))
    assert RightsRequest.select().count() == 2


# -- nominees ------------------------------------------------------------------------------------

NOMINEE = {"nominee_name": "Meera Shah", "relationship": "Spouse",
           "nominee_email": "meera@example.com", "nominee_mobile": "+919811111111",
           "purpose_of_appointment": "In case of my death or incapacity"}


def test_nominee_lifecycle_as_the_sdk_calls_it(client, org):
    r = client.get(f"{RC}/nominee/user/user-1", headers=sdk(org, "user-1"))
    assert (r.status_code, r.json) == (200, [])
    # createNominee: the form and client_user_id
    r = client.post(f"{RC}/nominee", headers=sdk(org, "user-1"),
                    json={**NOMINEE, "client_user_id": "user-1"})
    assert r.status_code == 200, r.json
    created = r.json
    assert created == {"id": created["id"], **NOMINEE, "user_id": "user-1",
                       "client_user_id": "user-1", "created_at": created["created_at"],
                       "updated_at": created["created_at"]}
    r = client.get(f"{RC}/nominee/user/user-1", headers=sdk(org, "user-1"))
    assert r.json == [created]
    # updateNominee: the whole Nominee (user_id, client_user_id and the form)
    changed = {**NOMINEE, "nominee_name": "Meera S.", "nominee_email": ""}
    r = client.put(f"{RC}/nominee/{created['id']}", headers=sdk(org, "user-1"),
                   json={"user_id": "user-1", "client_user_id": "user-1", **changed})
    assert r.status_code == 200, r.json
    assert r.json["nominee_name"] == "Meera S." and r.json["nominee_email"] == ""
    assert r.json["created_at"] == created["created_at"]
    # another user's X-User-Id / body finds no nominee of theirs
    r = client.put(f"{RC}/nominee/{created['id']}", headers=sdk(org, "user-2"),
                   json={"client_user_id": "user-2", **NOMINEE})
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    r = client.delete(f"{RC}/nominee/{created['id']}", headers=sdk(org, "user-2"))
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    # deleteNominee
    r = client.delete(f"{RC}/nominee/{created['id']}", headers=sdk(org, "user-1"))
    assert (r.status_code, r.json) == (200, {"success": True, "id": created["id"],
                                             "message": "Nominee deleted successfully"})
    r = client.get(f"{RC}/nominee/user/user-1", headers=sdk(org, "user-1"))
    assert r.json == []
    r = client.delete(f"{RC}/nominee/{created['id']}", headers=sdk(org, "user-1"))
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    row = TcNominee.get_by_id(created["id"])
    assert (row.nominee_name, row.nominee_email, row.pd_salt) == (None, None, None)
    assert row.deleted_at is not None
    for action in ("created", "updated", "deleted"):
        [event] = _events(org, f"truconsent.nominee.{action}")
        assert "Meera" not in str(event.payload) and "user-1" not in str(event.payload)


def test_nominee_errors(client, org):
    r = client.post(f"{RC}/nominee", headers=sdk(org), json={**NOMINEE})
    assert (r.status_code, r.json) == (422, field_error(
        ["body"], "Value error, client_user_id is required (or the X-User-Id header)",
        "value_error"))
    r = client.post(f"{RC}/nominee", headers=sdk(org, "u"),
                    json={"relationship": "Spouse", "nominee_email": "bad@"})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json["detail"]} == {("body", "nominee_name"),
                                                          ("body", "nominee_email")}
    r = client.put(f"{RC}/nominee/no-such-id", headers=sdk(org, "u"), json=NOMINEE)
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    r = client.get(f"{RC}/nominee/user/{'x' * 256}", headers=sdk(org))
    assert r.status_code == 422
    # X-User-Id stands for client_user_id (the SDK leaves it out when it has none)
    r = client.post(f"{RC}/nominee", headers=sdk(org, "from-header"), json=NOMINEE)
    assert r.status_code == 200 and r.json["client_user_id"] == "from-header"


def test_another_organisations_nominees_and_tickets_are_out_of_reach(client, org, other_org):
    r = client.post(f"{RC}/nominee", headers=sdk(org, "shared-user"),
                    json={**NOMINEE, "client_user_id": "shared-user"})
    nominee_id = r.json["id"]
    r = client.post(f"{RC}/grievance", headers=sdk(org, "shared-user"), json={
        "client_user_id": "shared-user", "subject": "Spam", "category": "Marketing",
        "description": "I keep getting SMS."})
    ticket = r.json
    b = sdk(other_org, "shared-user")
    assert client.get(f"{RC}/nominee/user/shared-user", headers=b).json == []
    assert client.get(f"{RC}/grievance/user/shared-user", headers=b).json == []
    r = client.put(f"{RC}/nominee/{nominee_id}", headers=b, json=NOMINEE)
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    r = client.delete(f"{RC}/nominee/{nominee_id}", headers=b)
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    for ref in (ticket["id"], ticket["ticket_id"]):
        r = client.get(f"{RC}/grievance/{ref}/messages", headers=b)
        assert (r.status_code, r.json) == (404, detail("Grievance ticket not found"))
        r = client.post(f"{RC}/grievance/{ref}/messages", headers=b, json={"message": "hi"})
        assert (r.status_code, r.json) == (404, detail("Grievance ticket not found"))
        r = client.get(f"{ADMIN}/grievances/{ref}", headers=other_org.headers())
        assert r.status_code == 404
    # A's rows unchanged
    assert client.get(f"{RC}/nominee/user/shared-user",
                      headers=sdk(org)).json[0]["nominee_name"] == "Meera Shah"


# -- grievances ----------------------------------------------------------------------------------

def test_grievance_tickets_and_their_messages(client, org, runner):
    ticket_in = {"client_user_id": "user-1", "subject": "Unwanted calls",
                 "category": "Marketing", "description": "You call me every day."}
    r = client.post(f"{RC}/grievance", headers=sdk(org, "user-1"), json=ticket_in)
    assert r.status_code == 200, r.json
    t = r.json
    assert t == {"id": t["id"], "ticket_id": "GRV-000001", "subject": "Unwanted calls",
                 "category": "Marketing", "description": "You call me every day.",
                 "status": "open", "user_id": "user-1", "client_user_id": "user-1",
                 "created_at": t["created_at"], "updated_at": t["created_at"],
                 "message": "Grievance ticket created successfully"}
    r = client.post(f"{RC}/grievance", headers=sdk(org, "user-1"),
                    json={**ticket_in, "subject": "Second", "category": ""})
    second = r.json
    assert (second["ticket_id"], second["category"]) == ("GRV-000002", "")
    r = client.get(f"{RC}/grievance/user/user-1", headers=sdk(org, "user-1"))
    assert [x["ticket_id"] for x in r.json] == ["GRV-000002", "GRV-000001"]
    assert "message" not in r.json[0]
    # the chat: sendGrievanceMessage / getGrievanceMessages, by ticket_id (openTicket's) or id
    r = client.get(f"{RC}/grievance/GRV-000001/messages", headers=sdk(org, "user-1"))
    assert (r.status_code, r.json) == (200, [])
    r = client.post(f"{RC}/grievance/GRV-000001/messages", headers=sdk(org, "user-1"),
                    json={"sender": "user", "message": "Any news?"})
    assert r.status_code == 200, r.json
    sent = r.json
    assert sent == {"id": sent["id"], "ticket_id": "GRV-000001", "sender": "user",
                    "message": "Any news?", "created_at": sent["created_at"]}
    r = client.post(f"{ADMIN}/grievances/GRV-000001/messages", headers=org.headers(),
                    json={"message": "We have stopped the calls.", "status": "resolved"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "resolved"
    r = client.get(f"{RC}/grievance/{t['id']}/messages", headers=sdk(org, "user-1"))
    assert [(m["sender"], m["message"]) for m in r.json] == [
        ("user", "Any news?"), ("agent", "We have stopped the calls.")]
    # writing on a resolved ticket opens it again; a closed one refuses
    client.post(f"{RC}/grievance/GRV-000001/messages", headers=sdk(org, "user-1"),
                json={"sender": "user", "message": "Thanks"})
    assert client.get(f"{ADMIN}/grievances/GRV-000001",
                      headers=org.headers()).json["status"] == "open"
    result = runner.invoke(args=["truconsent", "rights-center", "reply", "--org", "acme",
                                 "GRV-000001", "--status", "closed"])
    assert result.exit_code == 0, result.output
    r = client.post(f"{RC}/grievance/GRV-000001/messages", headers=sdk(org, "user-1"),
                    json={"sender": "user", "message": "Again"})
    assert (r.status_code, r.json) == (409, detail("Grievance ticket is closed"))
    # errors
    r = client.post(f"{RC}/grievance/GRV-000002/messages", headers=sdk(org, "user-1"),
                    json={"sender": "agent", "message": "I am the agent"})
    assert (r.status_code, r.json) == (422, field_error(["body", "sender"],
                                                        "Input should be 'user'", "value_error"))
    r = client.post(f"{RC}/grievance/GRV-000002/messages", headers=sdk(org, "user-2"),
                    json={"message": "not my ticket"})
    assert (r.status_code, r.json) == (404, detail("Grievance ticket not found"))
    r = client.post(f"{RC}/grievance", headers=sdk(org, "user-1"),
                    json={"client_user_id": "user-1", "subject": ""})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json["detail"]} == {("body", "subject"),
                                                          ("body", "description")}
    r = client.get(f"{ADMIN}/grievances?status=closed", headers=org.headers())
    assert [x["ticket_id"] for x in r.json] == ["GRV-000001"]
    for event in AuditEvent.select().where(AuditEvent.action.startswith("truconsent.grievance")):
        assert "calls" not in str(event.payload) and "user-1" not in str(event.payload)


# -- phone + OTP ---------------------------------------------------------------------------------

def _otp_body(**extra):
    return {"assetId": None, "phone": "9876543210", "countryCode": "+91", **extra}


def _last_code(org) -> str:
    [message] = mailbox.kept(org.org.id, limit=1)
    assert message.to_address == PHONE and message.to_masked == "+*********210"
    return re.match(r"^(\d{6}) is your verification code", message.body_text).group(1)


def _verified(client, org, **extra) -> dict:
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json=_otp_body(**extra))
    assert r.status_code == 200, r.json
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=_last_code(org), **extra))
    assert r.status_code == 200, r.json
    return r.json


def test_otp_flow_gives_a_token_the_sdk_sends_on_every_later_call(client, org, other_org):
    cpf = make_cp(org.org)
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json=_otp_body(assetId=cpf.asset.id))
    assert (r.status_code, r.json) == (200, {"success": True, "message": "OTP sent successfully",
                                             "expires_in": 300})
    code = _last_code(org)
    wrong = "000000" if code != "000000" else "111111"
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=wrong, assetId=cpf.asset.id))
    assert (r.status_code, r.json) == (400, detail("Invalid OTP"))
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=code, assetId=cpf.asset.id))
    assert r.status_code == 200, r.json
    got = r.json
    assert got == {"accessToken": got["accessToken"], "dataPrincipalId": PHONE,
                   "tokenType": "Bearer", "expiresIn": 3600}
    token = got["accessToken"]
    assert token.startswith("rca.")
    # used once
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=code))
    assert (r.status_code, r.json) == (
        400, detail("OTP expired or not found. Please request a new OTP."))
    # setAuth: X-User-Id and the token on every call; the token's principal passes...
    me = sdk(org, PHONE, token)
    r = client.post(f"{RC}/nominee", headers=me, json={**NOMINEE, "client_user_id": PHONE})
    assert r.status_code == 200, r.json
    nominee_id = r.json["id"]
    assert client.get(f"{RC}/nominee/user/{PHONE}", headers=me).status_code == 200
    assert client.get(f"{RC}/dpo", headers=me).status_code == 404
    assert client.get(f"{RC}/consent/user/{PHONE}", headers=me).status_code == 200
    r = client.get(f"{RC}/consent/user-consent-status?userId=%2B919876543210", headers=me)
    assert r.status_code == 200
    r = client.post(f"{RC}/rights-requests/deletion-request", headers=me,
                    json={"user_id": PHONE})
    assert r.status_code == 200
    # ... another principal does not
    denied = detail("Access token does not belong to this user")
    for method, path, body in (
            ("get", f"{RC}/nominee/user/someone-else", None),
            ("get", f"{RC}/grievance/user/someone-else", None),
            ("post", f"{RC}/nominee", {**NOMINEE, "client_user_id": "someone-else"}),
            ("post", f"{RC}/rights-requests/access-request", {"user_id": "someone-else"}),
            ("get", f"{RC}/consent/user/someone-else", None),
            ("get", f"{RC}/consent/user-consent-status?userId=someone-else", None)):
        r = client.open(path, method=method.upper(), headers=me, json=body)
        assert (r.status_code, r.json) == (403, denied), path
    # a nominee of someone else is not the token's to change
    r = client.post(f"{RC}/nominee", headers=sdk(org, "someone-else"),
                    json={**NOMINEE, "client_user_id": "someone-else"})
    r = client.delete(f"{RC}/nominee/{r.json['id']}", headers=sdk(org, None, token))
    assert (r.status_code, r.json) == (404, detail("Nominee not found"))
    # forged, and another organisation's token
    bad = detail("Invalid or expired auth token")
    r = client.get(f"{RC}/nominee/user/{PHONE}", headers=sdk(org, PHONE, token[:-2] + "xx"))
    assert (r.status_code, r.json) == (401, bad)
    r = client.get(f"{RC}/nominee/user/{PHONE}", headers=sdk(other_org, PHONE, token))
    assert (r.status_code, r.json) == (401, bad)
    # an operator's session token with the key: the key decides, as elsewhere
    session = bearer(client.application, org.org)
    r = client.get(f"{RC}/nominee/user/{PHONE}", headers=sdk(org, PHONE, session))
    assert r.status_code == 200 and r.json[0]["id"] == nominee_id
    # no phone or code in any audit payload
    for event in AuditEvent.select().where(AuditEvent.action.startswith("truconsent.rights")):
        assert "9876543210" not in str(event.payload) and code not in str(event.payload)
    row = TcAccessOtp.select().first()
    assert code not in row.code_hash and "9876543210" not in row.phone_lookup


def test_the_token_expires(client, org, monkeypatch):
    token = _verified(client, org)["accessToken"]
    move_clock(monkeypatch, seconds=3601)
    r = client.get(f"{RC}/nominee/user/{PHONE}", headers=sdk(org, PHONE, token))
    assert (r.status_code, r.json) == (401, detail("Invalid or expired auth token"))
    r = client.get(f"{RC}/consent/user/{PHONE}", headers=sdk(org, PHONE, token))
    assert (r.status_code, r.json) == (401, detail("Invalid or expired auth token"))


def test_an_otp_expires(client, org, monkeypatch):
    client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org), json=_otp_body())
    code = _last_code(org)
    move_clock(monkeypatch, seconds=301)
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=code))
    assert (r.status_code, r.json) == (
        400, detail("OTP expired or not found. Please request a new OTP."))


def test_wrong_attempts_void_the_otp(client, org):
    client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org), json=_otp_body())
    code = _last_code(org)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(rc.MAX_ATTEMPTS - 1):
        r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                        json=_otp_body(otp=wrong))
        assert (r.status_code, r.json) == (400, detail("Invalid OTP"))
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=wrong))
    assert (r.status_code, r.json) == (
        429, detail("Too many incorrect attempts. Please request a new OTP."))
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=code))
    assert (r.status_code, r.json) == (
        400, detail("OTP expired or not found. Please request a new OTP."))
    assert len(_events(org, "truconsent.rights_access.otp_failed")) == rc.MAX_ATTEMPTS
    # a new code works; only the latest one counts
    client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org), json=_otp_body())
    first = _last_code(org)
    client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org), json=_otp_body())
    latest = _last_code(org)
    if first != latest:
        r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                        json=_otp_body(otp=first))
        assert (r.status_code, r.json) == (400, detail("Invalid OTP"))
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp=latest))
    assert r.status_code == 200 and r.json["dataPrincipalId"] == PHONE


def test_send_otp_is_rate_limited_per_phone(client, org, monkeypatch):
    for _ in range(rc.SENDS_PER_WINDOW):
        r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                        json=_otp_body())
        assert r.status_code == 200, r.json
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org), json=_otp_body())
    assert (r.status_code, r.json) == (429, detail(
        "Too many OTP requests for this phone number. Please try again later."))
    assert 1 <= int(r.headers["Retry-After"]) <= rc.SEND_WINDOW + 1
    # the same phone written another way is the same phone; another phone is not limited
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json={"phone": PHONE})
    assert r.status_code == 429
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json=_otp_body(phone="9876543211"))
    assert r.status_code == 200
    assert len(mailbox.kept(org.org.id)) == rc.SENDS_PER_WINDOW + 1
    move_clock(monkeypatch, seconds=rc.SEND_WINDOW + 1)
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org), json=_otp_body())
    assert r.status_code == 200


def test_otp_input_errors(client, org):
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json={"phone": "9876543210"})
    assert (r.status_code, r.json) == (422, field_error(
        ["body"], "Value error, countryCode is required unless phone starts with +",
        "value_error"))
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json={"phone": "12", "countryCode": "+91"})
    assert r.status_code == 422 and r.json["detail"][0]["type"] == "value_error"
    r = client.post(f"{RC}/rights-center-access/send-otp", headers=sdk(org),
                    json=_otp_body(assetId="no-such-asset"))
    assert (r.status_code, r.json) == (404, detail("Asset not found"))
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp="12ab"))
    assert (r.status_code, r.json) == (422, field_error(
        ["body", "otp"], "String should match pattern '^[0-9]+$'", "value_error"))
    r = client.post(f"{RC}/rights-center-access/verify-otp", headers=sdk(org),
                    json=_otp_body(otp="123456"))
    assert (r.status_code, r.json) == (
        400, detail("OTP expired or not found. Please request a new OTP."))
    r = client.post(f"{RC}/rights-center-access/send-otp",
                    headers={"Content-Type": "application/json", "X-Org-Id": org.slug},
                    json=_otp_body())
    assert (r.status_code, r.json) == (401, detail("Authorization token required"))
    assert TcAccessOtp.select().count() == 0


# -- people's rights -----------------------------------------------------------------------------

def test_erasure_and_report_of_the_rights_center(client, org, app):
    token = _verified(client, org)["accessToken"]
    me = sdk(org, PHONE, token)
    nominee = client.post(f"{RC}/nominee", headers=me,
                          json={**NOMINEE, "client_user_id": PHONE}).json
    ticket = client.post(f"{RC}/grievance", headers=me, json={
        "client_user_id": PHONE, "subject": "Unwanted calls", "category": "Marketing",
        "description": "Stop calling 9876543210"}).json
    client.post(f"{RC}/grievance/{ticket['ticket_id']}/messages", headers=me,
                json={"sender": "user", "message": "Still calling"})
    client.post(f"{ADMIN}/grievances/{ticket['id']}/messages", headers=org.headers(),
                json={"message": "Sorry about that"})
    report = rights.report(org.org.id, PHONE)
    section = report["providers"]["truconsent"]
    assert [n["nominee_name"] for n in section["nominees"]] == ["Meera Shah"]
    assert section["nominees"][0]["nominee_email"] == "meera@example.com"
    [g] = section["grievances"]
    assert (g["ticket_id"], g["description"]) == ("GRV-000001", "Stop calling 9876543210")
    assert [m["message"] for m in g["messages"]] == ["Still calling", "Sorry about that"]
    assert len(section["access_otps"]) == 1 and section["access_otps"][0]["used_at"]

    result = rights.erase(org.org.id, PHONE, actor="test")
    assert result["tables"]["truconsent_nominee"] == 1
    assert result["tables"]["truconsent_grievance"] == 1
    assert result["tables"]["truconsent_grievance_message"] == 2
    assert result["tables"]["truconsent_access_otp"] == 1
    assert verify.full(org.org.id)["ok"]
    row = TcNominee.get_by_id(nominee["id"])
    assert (row.nominee_name, row.relationship, row.nominee_email, row.nominee_mobile,
            row.purpose_of_appointment, row.pd_salt) == (None,) * 6
    g = TcGrievance.get_by_id(ticket["id"])
    assert (g.subject, g.category, g.description, g.pd_salt) == (None,) * 4
    assert TcAccessOtp.select().count() == 0
    assert mailbox.kept(org.org.id) == []
    # the reads answer as for someone unknown; the old identifier finds nothing
    plain = sdk(org, PHONE)
    assert client.get(f"{RC}/nominee/user/{PHONE}", headers=plain).json == []
    assert client.get(f"{RC}/grievance/user/{PHONE}", headers=plain).json == []
    r = client.get(f"{RC}/grievance/{ticket['ticket_id']}/messages", headers=plain)
    assert (r.status_code, r.json) == (404, detail("Grievance ticket not found"))
    assert rights.report(org.org.id, PHONE) is None
    assert rights.erase(org.org.id, PHONE, actor="test") is None
    # the operator still sees the ticket, without its words
    r = client.get(f"{ADMIN}/grievances/{ticket['id']}", headers=org.headers())
    assert (r.json["subject"], r.json["description"], r.json["user_id"]) == ("", "", "")
    assert [m["message"] for m in r.json["messages"]] == ["", ""]
    if app.config["CONSENT_DATABASE_URL"].startswith("sqlite"):
        path = app.config["CONSENT_DATABASE_URL"].split("///", 1)[1]
        for suffix in ("", "-wal"):
            try:
                data = open(path + suffix, "rb").read()
            except FileNotFoundError:
                continue
            for value in (b"Meera Shah", b"meera@example.com", b"Stop calling",
                          b"Still calling"):
                assert value not in data, (suffix, value)


# -- control mode --------------------------------------------------------------------------------

@pytest.mark.control_mode
def test_a_reset_keeps_settings_and_dpo_and_removes_peoples_rows(client, org):
    from tests.test_control import control

    client.put(f"{ADMIN}/rights-center/settings", headers=org.headers(),
               json={"access_mode": "non_sso"})
    client.put(f"{ADMIN}/dpo", headers=org.headers(), json={"full_name": "Asha Rao",
                                                           "email": "dpo@acme.example"})
    token = _verified(client, org)["accessToken"]
    me = sdk(org, PHONE, token)
    client.post(f"{RC}/nominee", headers=me, json={**NOMINEE, "client_user_id": PHONE})
    ticket = client.post(f"{RC}/grievance", headers=me, json={
        "client_user_id": PHONE, "subject": "s", "description": "d"}).json
    client.post(f"{RC}/grievance/{ticket['id']}/messages", headers=me, json={"message": "m"})
    r = control(client, org, "POST", "/reset")
    assert r.status_code == 200, r.json
    assert r.json["removed"]["truconsent_nominee"] == 1
    assert r.json["removed"]["truconsent_grievance"] == 1
    assert verify.full(org.org.id)["ok"]
    assert client.get(f"{RC}/rights-center/settings/global",
                      headers=sdk(org)).json["access_mode"] == "non_sso"
    assert client.get(f"{RC}/dpo", headers=sdk(org)).json["full_name"] == "Asha Rao"
    assert client.get(f"{RC}/nominee/user/{PHONE}", headers=sdk(org, PHONE)).json == []


def test_blank_words_are_refused(client, org):
    r = client.post(f"{RC}/grievance", headers=sdk(org, "u"),
                    json={"subject": "  ", "description": "d"})
    assert (r.status_code, r.json) == (422, field_error(
        ["body"], "Value error, subject must not be blank", "value_error"))
    r = client.post(f"{RC}/nominee", headers=sdk(org, "u"),
                    json={**NOMINEE, "relationship": " "})
    assert (r.status_code, r.json) == (422, field_error(
        ["body"], "Value error, relationship must not be blank", "value_error"))
    ticket = client.post(f"{RC}/grievance", headers=sdk(org, "u"),
                         json={"subject": "s", "description": "d"}).json
    r = client.post(f"{RC}/grievance/{ticket['ticket_id']}/messages", headers=sdk(org, "u"),
                    json={"sender": "user", "message": " \n "})
    assert (r.status_code, r.json) == (422, field_error(
        ["body"], "Value error, message must not be blank", "value_error"))
    r = client.post(f"{ADMIN}/grievances/{ticket['id']}/messages", headers=org.headers(),
                    json={"message": "  "})
    assert r.status_code == 422
    assert client.get(f"{RC}/grievance/{ticket['id']}/messages",
                      headers=sdk(org, "u")).json == []
