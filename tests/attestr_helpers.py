"""Shared pieces of the Attestr tests: a movable clock, clients, and a register body."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from consent.core import storage
from consent.dialects.attestr import clients, models

MALFORMED = {"httpStatusCode": 400, "code": 4001,
             "message": "Malformed data or missing required parameter values", "appError": True}
_refs = itertools.count(1)


class Clock:
    """The Attestr dialect's clock, frozen at a whole second, moved by the test."""

    def __init__(self):
        self.at = storage.utcnow().replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock()
    monkeypatch.setattr(models, "now", frozen)
    return frozen


class Client:
    """An Attestr client of an organisation, and its Authorization header."""

    def __init__(self, org, services=("BANK_ACC", "PAN"), **settings):
        self.org = org
        self.issued = clients.create_client(org, name="test client", services=services,
                                            **settings)
        self.id = self.issued.client.credential_id

    def headers(self, **extra) -> dict:
        return {"Authorization": f"Basic {self.issued.auth_token}", **extra}


@pytest.fixture
def attestr(org):
    return Client(org.org)


def iso(at: dt.datetime) -> str:
    """Attestr's documented form: 2026-05-22T00:00:00+0000."""
    return at.strftime("%Y-%m-%dT%H:%M:%S+0000")


def body(**over) -> dict:
    """The documentation's sample request, valid from an hour ago for a day, a new reference."""
    now = storage.utcnow().replace(microsecond=0)
    base = {
        "consentPurpose": "kyc_verification", "services": [{"service": "BANK_ACC"}],
        "consentTimestamp": iso(now - dt.timedelta(hours=2)), "consentMode": "email_otp",
        "consentType": "multi_use", "consentValidFrom": iso(now - dt.timedelta(hours=1)),
        "consentValidTill": iso(now + dt.timedelta(days=1)),
        "consentReferenceId": f"ref-{next(_refs)}", "consentPrincipalUserId": "USER#1234",
        "clientDeclaration": True, "consentOperations": ["VERIFY", "FETCH", "STORE", "REPORT"],
        "consentDataCategories": [
            {"category": "personal_information", "values": ["name", "father_name"]},
            {"category": "financial", "values": ["bank_account", "ifsc"]}],
        "clientObtainedBy": "app-1234"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def register(client, attestr_client, **over):
    return client.post("/api/v3/public/consent/register", json=body(**over),
                       headers=attestr_client.headers())
