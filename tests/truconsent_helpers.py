"""Helpers for the truConsent tests: a collection point, bearer tokens, links, and a movable clock."""
from __future__ import annotations

import datetime as dt
import time as _time
from dataclasses import dataclass
from urllib.parse import urlsplit

import itsdangerous.timed

from consent.core import auth
from consent.dialects.truconsent import models, points

PURPOSES = [
    {"name": "Marketing messages", "description": "Offers by SMS.", "version": "2"},
    {"name": "Analytics", "description": "Product analytics.", "version": "1"},
]


@dataclass
class CPFixture:
    asset: object
    cp: object

    @property
    def purpose_ids(self):
        return [p["id"] for p in self.cp.purposes]


def make_cp(org, title="Sign-up", purposes=PURPOSES, notice_version="3") -> CPFixture:
    asset = points.create_asset(org, "Web app")
    cp = points.create_collection_point(org, asset.id, title, "We use your phone number.",
                                         [dict(p) for p in purposes], notice_version=notice_version)
    return CPFixture(asset, cp)


def bearer(app, org, email="op@example.com", member=True) -> str:
    user = auth.create_user(email)
    if member:
        auth.add_member(org.id, user)
    return auth.issue_session_token(app.config["SECRET_KEY"], user, 3600,
                                    app.config["CONSENT_SESSION_MAX_AGE"])


def link_body(cpf: CPFixture, **overrides) -> dict:
    body = {"collection_point_id": cpf.cp.id, "asset_id": cpf.asset.id,
            "phone": "+919876543210", "expiry_hours": 24}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def create_link(client, orgf, cpf, **overrides) -> dict:
    resp = client.post("/api/consent/consent-links", json=link_body(cpf, **overrides),
                       headers=orgf.headers(orgf.consent_key))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def link_path(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + "?" + parts.query


class FakeTime:
    def __init__(self, offset: float):
        self.offset = offset

    def time(self):
        return _time.time() + self.offset


def move_clock(monkeypatch, **delta):
    """Move the service's clock (and itsdangerous') forward, instead of sleeping."""
    offset = dt.timedelta(**delta)
    monkeypatch.setattr(models, "CLOCK_OFFSET", offset)
    monkeypatch.setattr(itsdangerous.timed, "time", FakeTime(offset.total_seconds()))
