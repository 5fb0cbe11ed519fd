"""The floor under each write path: the product's own storage functions, without the framework.

``make bench`` serves this WSGI app: every URL goes to the product (``app:app``) except those
under ``/__floor/``, which run the same write as their product twin by calling the very
functions its view calls (credential lookup, signature check, the service function and its
transaction), with ``json.loads`` in and ``json.dumps`` out, and nothing else: no Flask,
flask-smorest, webargs or marshmallow. There is no second copy of any statement: a change to a
write path changes its floor too. Before measuring, ``bench.run`` checks that a floor request and
its product twin add the same rows to every table.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re

from app import app as product
from consent.core import auth, ledger
from consent.core.storage import transaction
from consent.dialects.attestr import clients as attestr_clients
from consent.dialects.attestr import consents as attestr
from consent.dialects.attestr import ratelimit
from consent.dialects.avacy import archive
from consent.dialects.truconsent import links, logs, points
from consent.dialects.truconsent.phones import normalise_phone
from consent.dialects.veriff import service as veriff
from schemas.common import naive_utc

from .wrk import FLOOR_PREFIX as PREFIX


def _key(environ, kind="api_key"):
    cred = auth.find_credential(environ.get("HTTP_X_API_KEY"), kind=kind)
    if cred is None or environ.get("HTTP_X_ORG_ID") not in (cred.org_slug, cred.org_id):
        raise PermissionError()
    return cred


def ledger_record(environ, raw: bytes, match):
    cred = _key(environ)
    data = json.loads(raw)
    with transaction():
        consent = ledger.in_transaction_record(
            cred.org_id, [ledger.Decision(source="ledger", **data)],
            actor=f"credential:{cred.id}")[0].consent
    return 201, consent._asdict()


def veriff_consent(environ, raw: bytes, match):
    cred = auth.find_credential(environ.get("HTTP_X_AUTH_CLIENT"), kind="hmac")
    if cred is None or not auth.signature_matches(cred.shared_secret, raw,
                                                  environ.get("HTTP_X_HMAC_SIGNATURE")):
        raise PermissionError()
    data = json.loads(raw)
    session_id = match.group(1)
    if veriff.find_session(cred, session_id) is None:
        return 404, {"status": "fail"}
    row = veriff.record_consent(cred, session_id, data)
    return 200, {"id": row.consent_id, "context": "consent", "sessionId": session_id}


def truconsent_link(environ, raw: bytes, match):
    cred = _key(environ)
    data = json.loads(raw)
    org = cred.org
    cp = points.find_cp(org, data["collection_point_id"])
    issued = links.create(product.config["SECRET_KEY"], product.config["CONSENT_PUBLIC_URL"], org,
                          cp, normalise_phone(data["phone"]), data["expiry_hours"], None,
                          f"credential:{cred.id}")
    return 200, {"request_id": issued.request.id, "event_id": issued.event.id,
                 "consent_link": issued.url, "expires_at": str(issued.event.expires_at)}


def truconsent_record(environ, raw: bytes, match):
    cred = _key(environ)
    data = json.loads(raw)
    with transaction():
        written = logs.record(cred.org, data, f"credential:{cred.id}")
    return 200, {"success": True, "consent_logs": [log.row._asdict() for log in written]}


def avacy_consent(environ, raw: bytes, match):
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    cred = auth.find_credential(token, kind="api_key") if scheme == "Bearer" else None
    if cred is None or cred.org_slug != match.group(1) or "consent" not in cred.scope_set:
        raise PermissionError()
    org = cred.org
    space = archive.webspace(org, int(match.group(2)))
    if space is None:
        return 404, {"message": "Domains group not found."}
    entry = archive.record(org, space, archive.from_documented("domains_groups", json.loads(raw)),
                           f"credential:{cred.id}")
    return 201, {"data": {"id": entry.row.id, "subject_id": entry.row.subject_id}}


TIMESTAMPS = ("consentTimestamp", "consentValidFrom", "consentValidTill")


def attestr_register(environ, raw: bytes, match):
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    client_id, _, secret = base64.b64decode(token).decode().partition(":")
    cred = auth.find_basic_client(client_id, secret) if scheme == "Basic" else None
    client = attestr_clients.find(cred.id) if cred is not None else None
    if client is None or not attestr_clients.ip_allowed(client, environ.get("REMOTE_ADDR")):
        raise PermissionError()
    ratelimit.hit(client, "consent.register")
    provided = json.loads(raw)
    data = {"webhook": False, **provided,
            **{k: naive_utc(dt.datetime.fromisoformat(provided[k])) for k in TIMESTAMPS}}
    row = attestr.register(client, data, provided)
    return 200, {"_id": row.id, "number": row.number}


def noop(environ, raw: bytes, match):
    """The ceiling's twin: what gunicorn and wrk cost for a request, with no framework."""
    return 200, {"status": "ok"}


ROUTES = [
    (re.compile(r"^/healthz$"), noop),
    (re.compile(r"^/ledger/v1/consents$"), ledger_record),
    (re.compile(r"^/v1/sessions/([^/]+)/consents$"), veriff_consent),
    (re.compile(r"^/api/consent/consent-links$"), truconsent_link),
    (re.compile(r"^/api/v1/external/consents/record$"), truconsent_record),
    (re.compile(r"^/([^/]+)/domains_groups/(\d+)/consents$"), avacy_consent),
    (re.compile(r"^/api/v3/public/consent/register$"), attestr_register),
]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX + "/"):
        return product(environ, start_response)
    path = path[len(PREFIX):]
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    for pattern, handler in ROUTES:
        match = pattern.match(path)
        if match:
            try:
                status, body = handler(environ, raw, match)
            except PermissionError:
                status, body = 401, {"error": "unauthorized"}
            break
    else:
        status, body = 404, {"error": "no floor route"}
    payload = json.dumps(body, default=str).encode()
    start_response(f"{status} X", [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(payload)))])
    return [payload]
