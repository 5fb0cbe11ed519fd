"""One person with records through all four providers' APIs under one identifier (truConsent's
userId, Veriff's vendorData, the Avacy archive's identifying e-mail, Attestr's principal id),
erased once through the ledger's own API: every table and the outbox hold none of their values
(the database file and its WAL on SQLite, every live row on PostgreSQL), ``audit verify`` passes,
and each provider's reads answer as for a person it never knew."""
from __future__ import annotations

import re
from urllib.parse import quote

from consent.core import rights
from tests.attestr_helpers import MALFORMED, Client, register
from tests.avacy_helpers import DOCUMENTED, Tenant
from tests.erasure_helpers import assert_gone, assert_present
from tests.truconsent_helpers import make_cp
from tests.veriff_helpers import CONSENT, FAIL_NOT_FOUND, Integration

WHO = "amrita.kulkarni.7731@example.in"
SURNAME = "Kulkarnivarma"
IP = "198.51.100.177"
REFERENCE = "kyc-ref-amrita-5521"
PHONE = "+919811122233"
LOGS = "/api/v1/external/consents"


def test_one_person_in_every_provider_erased_once(app, client, org):
    h = org.headers(org.consent_key)
    cpf = make_cp(org.org)
    r = client.post(f"{LOGS}/record", headers=h, json={
        "userId": WHO, "action": "approved", "purposes": [{"id": cpf.purpose_ids[0]}],
        "metadata": {"phone": PHONE}})
    assert r.status_code == 200, r.json
    veriff = Integration(org.org)
    sid = veriff.create_session(client, {"vendorData": WHO, "person": {
        "firstName": "Amrita", "lastName": SURNAME}})
    assert veriff.upload(client, sid, CONSENT).status_code == 200
    avacy = Tenant(org.org)
    r = avacy.post_json(client, "domains_groups", {
        **DOCUMENTED, "ip_address": IP,
        "subject": {**DOCUMENTED["subject"], "email": WHO, "last_name": SURNAME}})
    assert r.status_code == 201, r.json
    entry = r.json["data"]["id"]
    attestr = Client(org.org)
    r = register(client, attestr, consentPrincipalUserId=WHO, consentReferenceId=REFERENCE)
    assert r.status_code == 200, r.json
    attestr_id = r.json["_id"]
    # someone else, who stays
    assert client.post(f"{LOGS}/record", headers=h, json={
        "userId": "bystander-0042", "action": "approved",
        "purposes": [{"id": cpf.purpose_ids[1]}]}).status_code == 200

    report = client.get(f"/ledger/v1/subjects/{WHO}/report", headers=org.headers()).json
    assert set(report["providers"]) >= {"truconsent", "veriff", "avacy", "attestr"}
    assert {c["source"] for c in report["consents"]} >= {"api", "veriff", "avacy", "attestr"}
    values = [WHO, SURNAME, IP, REFERENCE, PHONE]
    assert_present(values)

    r = client.post(f"/ledger/v1/subjects/{WHO}/erasure", headers=org.headers(),
                    json={"reason": "DPDP s.12"})
    assert r.status_code == 200 and r.json["erased"] is True, r.json
    tables = r.json["tables"]
    for table in ("truconsent_log", "veriff_session", "avacy_consent", "attestr_consent"):
        assert tables.get(table, 0) >= 1, (table, tables)

    assert_gone(values)
    assert_present(["bystander-0042"])
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True

    # every provider answers as for a person it never knew
    never = "never-known-person@example.in"

    def answer(path: str, who: str):
        r = client.get(path.format(quote(who, safe="")), headers=h)
        text = r.get_data(as_text=True).replace(who, "{who}")
        return r.status_code, re.sub(r'"as_of": ?"[^"]*"', '"as_of": null', text)

    for path in (f"{LOGS}/user-status?dp_id={{}}", f"{LOGS}/history?dp_id={{}}",
                 "/api/v1/internal/consent/user/{}"):
        assert answer(path, WHO) == answer(path, never), path
    r = veriff.get(client, f"/v1/sessions/{sid}/decision", sid)
    assert (r.status_code, r.json) == (404, FAIL_NOT_FOUND)
    found = client.get(f"/ledger/v1/avacy/consents?identifier={quote(WHO, safe='')}",
                       headers=org.headers())
    assert found.json["items"] == []
    assert client.get(f"/ledger/v1/avacy/consents/{entry}",
                      headers=org.headers()).json["identifier"] is None
    r = client.get(f"/api/v3/public/consent/{attestr_id}", headers=attestr.headers())
    assert (r.status_code, r.json["code"]) == (400, MALFORMED["code"])
    assert client.get(f"/ledger/v1/subjects/{WHO}/report",
                      headers=org.headers()).status_code == 404
    assert rights.erase(org.org.id, WHO, actor="test") is None
