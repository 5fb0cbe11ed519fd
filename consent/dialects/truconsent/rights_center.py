"""truConsent's rights center, as truKIT's ``RightsCenterApi`` calls it: its settings per asset,
rights requests (access, deletion: ``consent.core.rights`` requests), the DPO's contact,
nominees, grievance tickets with their messages, and phone + OTP access for data principals
without single sign-on. The views are in :mod:`.rights_routes`.

People and their data. A nominee or a ticket belongs to a data principal's subject (its integer
id, a pseudonym; the subject is made on first use so that an erasure finds it); the nominee's
details, a ticket's words and its messages are personal data (covered rows, salted, erasable:
:func:`erase`, and reported: :func:`report`). A phone that asked for an OTP is kept only as its
keyed lookup (``consent.core.personal.lookup``), the code only as an HMAC; audit payloads name
rows by id and people by ``subject_ref``.

Phone + OTP. ``send-otp`` makes a 6-digit code (:data:`OTP_TTL` seconds, the latest one only),
puts it in the local outbox (``consent.core.mailbox``: there is no SMS gateway; the operator
delivers it) and is limited to :data:`SENDS_PER_WINDOW` sends per phone per
:data:`SEND_WINDOW` seconds (429); ``verify-otp`` compares in constant time, burns the code after
:data:`MAX_ATTEMPTS` wrong tries, and answers ``{accessToken, dataPrincipalId}``: the principal is
the phone in E.164 (as consent links name it), the token an itsdangerous token of its own salt
(:data:`ACCESS_SALT`, :data:`ACCESS_TTL` seconds) carrying the organisation and the phone's
lookup, prefixed ``rca.``. truKIT sends it as ``Authorization: Bearer`` beside the API key on
every later request; every route that names a data principal then requires that it is the
token's (:func:`bound`): 401 for an expired or forged token, 403 for another principal.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from flask import current_app, request

from consent.core import audit, ledger, mailbox, personal, rights, sql, tokens
from consent.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthorized,
)
from consent.core.sql import Table, eq
from consent.core.storage import Subject, transaction

from . import models, points
from .models import (
    TcAccessOtp,
    TcDpo,
    TcGrievance,
    TcGrievanceMessage,
    TcNominee,
    TcRightsCenterSettings,
)
from .phones import E164, mask_phone

SOURCE = "truconsent"
ACCESS_SALT = "consent-ledger.truconsent.rights-center-access.v1"
TOKEN_PREFIX = "rca."
ACCESS_TTL = 3600
OTP_TTL = 300
MAX_ATTEMPTS = 5
SEND_WINDOW = 900
SENDS_PER_WINDOW = 5
OTP_DIGITS = 6

DEFAULTS = {
    "access_mode": "sso",
    "background_color": "#ffffff", "primary_text_color": "#111827",
    "secondary_text_color": "#4b5563", "button_color": "#2563eb",
    "button_text_color": "#ffffff", "font_family": "sans-serif",
    "show_consents_section": True, "show_rights_section": True,
    "show_nominees_section": True, "show_transparency_section": False,
    "show_dpo_section": None,     # None: shown when the organisation has a DPO on file
    "show_grievance_section": True,
    "grievance_mode": "truconsent", "grievance_external_url": "",
    "consents_section_title": "Consents", "rights_section_title": "Your Data Rights",
    "nominees_section_title": "Nominees", "transparency_description": "",
    "dpo_qualifications_enabled": True, "dpo_responsibilities_enabled": True,
    "dpo_working_hours_enabled": True, "dpo_response_time_enabled": True,
}


class TooMany(RateLimited):
    """429 in the dialect's shape (the view puts ``retry_after`` seconds in Retry-After)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# -- statements -----------------------------------------------------------------------------------

_s = Table(TcRightsCenterSettings, "t")
SETTINGS_OF_ORG = sql.model_select(TcRightsCenterSettings).where(*eq(_s.org), f"{_s.asset} IS NULL")
SETTINGS_OF_ASSET = sql.model_select(TcRightsCenterSettings).where(*eq(_s.org, _s.asset))
_d = Table(TcDpo, "t")
DPO_OF_ORG = sql.model_select(TcDpo).where(*eq(_d.org))
_n = Table(TcNominee, "t")
NOMINEE = sql.model_select(TcNominee)
NOMINEE_BY_ID = NOMINEE.where(*eq(_n.org, _n.id), f"{_n.deleted_at} IS NULL")
NOMINEES_OF = NOMINEE.where(*eq(_n.org, _n.subject_id), f"{_n.deleted_at} IS NULL",
                            order=f"{_n.created_at}, {_n.id}")
ALL_NOMINEES_OF = NOMINEE.where(*eq(_n.org, _n.subject_id), order=f"{_n.created_at}, {_n.id}")
_g = Table(TcGrievance, "t")
GRIEVANCE = sql.model_select(TcGrievance)
GRIEVANCE_BY_REF = GRIEVANCE.where(*eq(_g.org), f"({_g.id} = ? OR {_g.ticket_id} = ?)")
GRIEVANCES_OF = GRIEVANCE.where(*eq(_g.org, _g.subject_id),
                                order=f"{_g.created_at} DESC, {_g.id} DESC")
GRIEVANCES_OF_ORG = GRIEVANCE.where(*eq(_g.org), order=f"{_g.created_at} DESC, {_g.id} DESC")
GRIEVANCES_OF_ORG_BY_STATUS = GRIEVANCE.where(*eq(_g.org, _g.status),
                                              order=f"{_g.created_at} DESC, {_g.id} DESC")
COUNT_GRIEVANCES = GRIEVANCE.count(*eq(_g.org))
_m = Table(TcGrievanceMessage, "t")
MESSAGES_OF = sql.model_select(TcGrievanceMessage).where(
    *eq(_m.org, _m.grievance), order=f"{_m.created_at}, {_m.id}")
_o = Table(TcAccessOtp, "t")
OTP = sql.model_select(TcAccessOtp)
OTP_LATEST = OTP.where(*eq(_o.org, _o.phone_lookup), order=f"{_o.created_at} DESC, {_o.id} DESC",
                       limit=True)
OTPS_SINCE = OTP.where(*eq(_o.org, _o.phone_lookup), f"{_o.created_at} > ?",
                       order=f"{_o.created_at}, {_o.id}")
OTPS_OF = OTP.where(*eq(_o.org, _o.phone_lookup), order=f"{_o.created_at}, {_o.id}")
_od = Table(TcAccessOtp)
DELETE_OTPS_OF = sql.Statement(
    f"DELETE FROM {_od} WHERE {_od.org} = ? AND {_od.phone_lookup} = ?")
DELETE_OLD_OTPS = sql.Statement(
    f"DELETE FROM {_od} WHERE {_od.org} = ? AND {_od.phone_lookup} = ? AND {_od.created_at} < ?")
SUBJECT_BY_ID = sql.model_select(Subject).where('t."org_id" = ?', 't."id" = ?')


# -- settings -------------------------------------------------------------------------------------

def _has_dpo(org) -> bool:
    return DPO_OF_ORG.one((org.id,)) is not None


def effective_settings(org, asset) -> dict:
    """The defaults, then the organisation's settings, then the asset's."""
    out = dict(DEFAULTS)
    own = SETTINGS_OF_ORG.one((org.id,))
    if own is not None:
        out.update(own.settings)
    if asset is not None:
        mine = SETTINGS_OF_ASSET.one((org.id, asset.id))
        if mine is not None:
            out.update(mine.settings)
    if out["show_dpo_section"] is None:
        out["show_dpo_section"] = _has_dpo(org)
    out["asset_id"] = asset.id if asset is not None else None
    return out


def stored_settings(org, asset):
    """The row of one scope (the organisation's: ``asset`` None), or None."""
    if asset is None:
        return SETTINGS_OF_ORG.one((org.id,))
    return SETTINGS_OF_ASSET.one((org.id, asset.id))


def settings_view(org, asset) -> dict:
    row = stored_settings(org, asset)
    return {"asset_id": asset.id if asset is not None else None,
            "settings": row.settings if row is not None else {},
            "effective": effective_settings(org, asset),
            "updated_at": row.updated_at if row is not None else None}


def set_settings(org, asset, values: dict, actor: str) -> dict:
    """Replace one scope's settings (the keys given; ``{}`` clears them)."""
    with transaction():
        now = models.now()
        event = audit.begin(org.id, at=now)
        row = stored_settings(org, asset)
        if row is None:
            key = event.create(TcRightsCenterSettings, org_id=org.id,
                               asset_id=asset.id if asset else None, settings=values,
                               updated_at=now).id
        else:
            key = event.update(TcRightsCenterSettings, row, settings=values, updated_at=now).id
        event.append(actor=actor, action="truconsent.rights_center.settings",
                     entity_type="rights_center_settings", entity_id=key,
                     payload={"asset_id": asset.id if asset else None, "keys": sorted(values)})
    return settings_view(org, asset)


def find_asset_or_404(org, ref: str | None):
    if not ref:
        return None
    asset = points.find_asset(org, ref)
    if asset is None:
        raise NotFound("Asset not found")
    return asset


# -- DPO ------------------------------------------------------------------------------------------

DPO_FIELDS = ("full_name", "email", "appointment_date", "qualifications", "responsibilities",
              "working_hours", "response_time")


def dpo(org):
    found = DPO_OF_ORG.one((org.id,))
    if found is None:
        raise NotFound("DPO information not found")
    return found


def set_dpo(org, values: dict, actor: str):
    """Set (replace) the organisation's DPO."""
    values = {k: values.get(k) for k in DPO_FIELDS}
    if values["appointment_date"] is not None:
        values["appointment_date"] = str(values["appointment_date"])
    with transaction():
        now = models.now()
        event = audit.begin(org.id, at=now)
        row = DPO_OF_ORG.one((org.id,))
        if row is None:
            row = event.create(TcDpo, org_id=org.id, updated_at=now, **values)
        else:
            row = event.update(TcDpo, row, updated_at=now, **values)
        event.append(actor=actor, action="truconsent.dpo.set", entity_type="dpo",
                     entity_id=row.id, payload={"fields": sorted(k for k, v in values.items()
                                                                 if v is not None)})
    return row


# -- the data principal ---------------------------------------------------------------------------

def _subject(org, user_id: str, create: bool):
    if create:
        return ledger.ensure_subject(org.id, user_id)
    return ledger.find_subject(org.id, user_id)


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX) else None


class AccessDenied(Forbidden):
    """403: the access token is another data principal's."""


class BadToken(Unauthorized):
    """401: the access token is expired, forged or another organisation's."""


def token_lookup(org) -> str | None:
    """The phone lookup a request's rights center access token binds it to (None: the request
    carries none). Raises BadToken (401) for an expired, forged or other organisation's token."""
    token = _bearer()
    if token is None:
        return None
    try:
        data = tokens.loads(current_app.config["SECRET_KEY"], ACCESS_SALT,
                            token[len(TOKEN_PREFIX):], ACCESS_TTL)
    except tokens.BadSignature:   # SignatureExpired included
        raise BadToken("Invalid or expired auth token") from None
    if not isinstance(data, dict) or data.get("o") != org.id or not data.get("l"):
        raise BadToken("Invalid or expired auth token")
    return data["l"]


def bound(org, user_id: str | None) -> None:
    """With an access token, the data principal a request names must be the token's (403)."""
    bound_to = token_lookup(org)
    if bound_to is None or user_id is None:
        return
    if not hmac.compare_digest(personal.lookup(org.id, user_id) or "", bound_to):
        raise AccessDenied("Access token does not belong to this user")


def _bound_subject(org, subject_id: int) -> bool:
    """Whether a row's subject may be reached by this request (its token's, when it has one)."""
    bound_to = token_lookup(org)
    if bound_to is None:
        return True
    found = SUBJECT_BY_ID.one((org.id, subject_id))
    # the subject's row keeps the first 16 bytes of the same keyed hash
    return found is not None and found.lookup is not None and \
        hmac.compare_digest(bytes(found.lookup), bytes.fromhex(bound_to)[:16])


def header_user() -> str | None:
    value = (request.headers.get("X-User-Id") or "").strip()
    return value[:255] or None


def _owner_matches(org, subject_id: int, user_id: str | None) -> bool:
    if not _bound_subject(org, subject_id):
        return False
    if user_id is None:
        return True
    found = ledger.find_subject(org.id, user_id)
    return found is not None and found.id == subject_id


# -- rights requests ------------------------------------------------------------------------------

def rights_request(org, kind: str, data: dict, actor: str) -> dict:
    user_id = data["user_id"].strip()
    bound(org, user_id)
    if kind == "erasure":
        r = rights.create_request(org.id, "erasure", user_id, actor=actor, source=SOURCE,
                                  reason=data.get("reason"), metadata=data.get("metadata"))
        kind_name, message = "deletion", "Deletion request submitted successfully"
    else:
        r = rights.create_request(org.id, "access", user_id, actor=actor, source=SOURCE,
                                  reason=data.get("description"),
                                  metadata={"subject": data.get("subject"),
                                            "metadata": data.get("metadata")})
        kind_name, message = "access", "Access request submitted successfully"
    return {"success": True, "id": r.id, "request_id": r.id, "request_type": kind_name,
            "user_id": user_id, "status": r.status, "due_at": r.due_at,
            "created_at": r.created_at, "message": message}


# -- nominees -------------------------------------------------------------------------------------

NOMINEE_FIELDS = ("nominee_name", "relationship", "nominee_email", "nominee_mobile",
                  "purpose_of_appointment")


def nominee_view(row, user_id: str) -> dict:
    return {"id": row.id, **{k: getattr(row, k) or "" for k in NOMINEE_FIELDS},
            "user_id": user_id, "client_user_id": user_id, "created_at": row.created_at,
            "updated_at": row.updated_at}


def nominees(org, user_id: str) -> list[dict]:
    bound(org, user_id)
    subject = _subject(org, user_id, create=False)
    if subject is None:
        return []
    return [nominee_view(r, subject.identifier) for r in NOMINEES_OF.all((org.id, subject.id))]


def _given_user(data: dict) -> str:
    user_id = (data.get("client_user_id") or data.get("user_id") or header_user() or "").strip()
    if not user_id:
        raise Invalid("client_user_id is required (or the X-User-Id header)")
    return user_id


def _nominee_values(data: dict) -> dict:
    for name in ("nominee_name", "relationship"):
        _words(data.get(name), name)
    return {k: (data.get(k) or "").strip() or None for k in NOMINEE_FIELDS}


def create_nominee(org, data: dict, actor: str) -> dict:
    user_id = _given_user(data)
    bound(org, user_id)
    with transaction():
        subject = _subject(org, user_id, create=True)
        now = models.now()
        event = audit.begin(org.id, at=now)
        row = event.create(TcNominee, org_id=org.id, subject_id=subject.id, created_at=now,
                           updated_at=now, **_nominee_values(data))
        event.append(actor=actor, action="truconsent.nominee.created", entity_type="nominee",
                     entity_id=row.id, payload={"subject_ref": subject.id})
    return nominee_view(row, subject.identifier)


def _nominee(org, nominee_id: str, user_id: str | None):
    row = NOMINEE_BY_ID.one((org.id, nominee_id))
    if row is None or not _owner_matches(org, row.subject_id, user_id):
        raise NotFound("Nominee not found")
    return row


def _identifier(org, subject_id: int) -> str:
    found = SUBJECT_BY_ID.one((org.id, subject_id))
    return found.identifier if found is not None else ""


def update_nominee(org, nominee_id: str, data: dict, actor: str) -> dict:
    user_id = (data.get("client_user_id") or data.get("user_id") or header_user() or None)
    with transaction():
        row = _nominee(org, nominee_id, user_id)
        now = models.now()
        event = audit.begin(org.id, at=now)
        row = event.update(TcNominee, row, updated_at=now, **_nominee_values(data))
        event.append(actor=actor, action="truconsent.nominee.updated", entity_type="nominee",
                     entity_id=row.id, payload={"subject_ref": row.subject_id})
    return nominee_view(row, _identifier(org, row.subject_id))


def delete_nominee(org, nominee_id: str, actor: str) -> dict:
    """A deleted nominee's details are gone (NULL); the row stays, marked deleted."""
    with transaction():
        row = _nominee(org, nominee_id, header_user())
        now = models.now()
        event = audit.begin(org.id, at=now)
        event.update(TcNominee, row, deleted_at=now, updated_at=now, pd_salt=None,
                     **{k: None for k in NOMINEE_FIELDS})
        event.append(actor=actor, action="truconsent.nominee.deleted", entity_type="nominee",
                     entity_id=row.id, payload={"subject_ref": row.subject_id})
    return {"success": True, "id": row.id, "message": "Nominee deleted successfully"}


# -- grievances -----------------------------------------------------------------------------------

def grievance_view(row, user_id: str) -> dict:
    return {"id": row.id, "ticket_id": row.ticket_id, "subject": row.subject or "",
            "category": row.category or "", "description": row.description or "",
            "status": row.status, "user_id": user_id, "client_user_id": user_id,
            "created_at": row.created_at, "updated_at": row.updated_at}


def message_view(row, ticket_id: str) -> dict:
    return {"id": row.id, "ticket_id": ticket_id, "sender": row.sender,
            "message": row.message or "", "created_at": row.created_at}


def grievances(org, user_id: str) -> list[dict]:
    bound(org, user_id)
    subject = _subject(org, user_id, create=False)
    if subject is None:
        return []
    return [grievance_view(r, subject.identifier)
            for r in GRIEVANCES_OF.all((org.id, subject.id))]


def create_grievance(org, data: dict, actor: str) -> dict:
    data = {**data, "subject": _words(data["subject"], "subject"),
            "description": _words(data["description"], "description")}
    user_id = _given_user(data)
    bound(org, user_id)
    with transaction():
        subject = _subject(org, user_id, create=True)
        now = models.now()
        event = audit.begin(org.id, at=now)
        number = COUNT_GRIEVANCES.value((org.id,)) + 1
        row = event.create(TcGrievance, org_id=org.id, ticket_id=f"GRV-{number:06d}",
                           subject_id=subject.id, subject=data["subject"].strip(),
                           category=(data.get("category") or "").strip() or None,
                           description=data["description"].strip(), status="open",
                           created_at=now, updated_at=now)
        event.append(actor=actor, action="truconsent.grievance.created",
                     entity_type="grievance", entity_id=row.id,
                     payload={"subject_ref": subject.id, "ticket_id": row.ticket_id})
    return {**grievance_view(row, subject.identifier),
            "message": "Grievance ticket created successfully"}


def _ticket(org, ref: str, user_id: str | None = None, *, operator: bool = False):
    row = GRIEVANCE_BY_REF.one((org.id, ref, ref))
    if row is None or (not operator and not _owner_matches(org, row.subject_id, user_id)):
        raise NotFound("Grievance ticket not found")
    return row


def messages(org, ref: str) -> list[dict]:
    row = _ticket(org, ref, header_user())
    return [message_view(m, row.ticket_id) for m in MESSAGES_OF.all((org.id, row.id))]


def _add_message(org, ticket, sender: str, text: str, actor: str, status: str | None = None):
    now = models.now()
    event = audit.begin(org.id, at=now)
    row = None
    if text:
        row = event.create(TcGrievanceMessage, org_id=org.id, grievance_id=ticket.id,
                           sender=sender, message=text, created_at=now)
    changes = {"updated_at": now}
    if status and status != ticket.status:
        changes["status"] = status
    ticket = event.update(TcGrievance, ticket, **changes)
    event.append(actor=actor, action=f"truconsent.grievance.{sender}_message"
                 if row is not None else "truconsent.grievance.status",
                 entity_type="grievance", entity_id=ticket.id,
                 payload={"subject_ref": ticket.subject_id, "ticket_id": ticket.ticket_id,
                          "message_id": row.id if row is not None else None,
                          "status": ticket.status})
    return row, ticket


def _words(value: str | None, name: str) -> str:
    """Text that must say something (white space alone is refused: 422)."""
    value = (value or "").strip()
    if not value:
        raise Invalid(f"{name} must not be blank")
    return value


def post_message(org, ref: str, text: str, actor: str) -> dict:
    text = _words(text, "message")
    with transaction():
        ticket = _ticket(org, ref, header_user())
        if ticket.status == "closed":
            raise Conflict("Grievance ticket is closed")
        row, _ = _add_message(org, ticket, "user", text, actor,
                              status="open" if ticket.status == "resolved" else None)
    return message_view(row, ticket.ticket_id)


def reply(org, ref: str, text: str | None, status: str | None, actor: str) -> dict:
    """An agent's answer on a ticket (management API, CLI), and/or its new status."""
    if not (text or "").strip() and not status:
        raise Invalid("give a message, a status, or both")
    with transaction():
        ticket = _ticket(org, ref, operator=True)
        _, ticket = _add_message(org, ticket, "agent", (text or "").strip(), actor, status)
    return thread(org, ticket.id)


def thread(org, ref: str) -> dict:
    ticket = _ticket(org, ref, operator=True)
    return {**grievance_view(ticket, _identifier(org, ticket.subject_id)),
            "messages": [message_view(m, ticket.ticket_id)
                         for m in MESSAGES_OF.all((org.id, ticket.id))]}


def all_grievances(org, status: str | None = None) -> list[dict]:
    rows = (GRIEVANCES_OF_ORG_BY_STATUS.all((org.id, status)) if status
            else GRIEVANCES_OF_ORG.all((org.id,)))
    names: dict[int, str] = {}
    out = []
    for r in rows:
        if r.subject_id not in names:
            names[r.subject_id] = _identifier(org, r.subject_id)
        out.append(grievance_view(r, names[r.subject_id]))
    return out


# -- phone + OTP ----------------------------------------------------------------------------------

def phone_of(data: dict) -> str:
    """The E.164 phone of ``{phone, countryCode}`` (``+91`` and ``9876543210``; a phone that
    starts with + stands alone). Raises Invalid (422)."""
    phone = "".join(ch for ch in data["phone"] if ch.isdigit() or ch == "+")
    code = "".join(ch for ch in (data.get("countryCode") or "") if ch.isdigit())
    if not phone.startswith("+"):
        if not code:
            raise Invalid("countryCode is required unless phone starts with +")
        phone = f"+{code}{phone.lstrip('0')}"
    if not E164.match(phone):
        raise Invalid("phone is not a valid phone number (E.164: +919876543210, or a "
                      "countryCode and the number)")
    return phone


def _code_hash(salt: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key[-1] if isinstance(key, (list, tuple)) else key
    return hmac.new(f"{ACCESS_SALT}:{key}".encode(), f"{salt}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def send_otp(org, data: dict, actor: str) -> dict:
    phone = phone_of(data)
    asset = find_asset_or_404(org, data.get("assetId"))
    with transaction():
        now = models.now()
        audit.lock_org(org.id)
        lookup = personal.lookup(org.id, phone, create=True)
        since = now - dt.timedelta(seconds=SEND_WINDOW)
        recent = OTPS_SINCE.all((org.id, lookup, since))
        if len(recent) >= SENDS_PER_WINDOW:
            wait = recent[0].created_at + dt.timedelta(seconds=SEND_WINDOW) - now
            raise TooMany("Too many OTP requests for this phone number. Please try again later.",
                          max(1, int(wait.total_seconds()) + 1))
        DELETE_OLD_OTPS.execute((org.id, lookup, since))
        code = f"{secrets.randbelow(10 ** OTP_DIGITS):0{OTP_DIGITS}d}"
        salt = secrets.token_hex(16)
        row = sql.create(TcAccessOtp, org_id=org.id, phone_lookup=lookup,
                         asset_id=asset.id if asset else None, salt=salt,
                         code_hash=_code_hash(salt, code), attempts=0, created_at=now,
                         expires_at=now + dt.timedelta(seconds=OTP_TTL))
        minutes = OTP_TTL // 60
        message = mailbox.keep(
            org.id, to_masked=mask_phone(phone),
            subject=f"{org.name}: your Rights Center verification code",
            body_text=f"{code} is your verification code for {org.name}'s Rights Center. It "
                      f"expires in {minutes} minutes. Do not share it with anyone.",
            body_html=None, transport="outbox", status="queued", to_address=phone)
        subject = ledger.find_subject(org.id, phone)
        audit.append(org.id, actor=actor, action="truconsent.rights_access.otp_sent",
                     entity_type="rights_access_otp", entity_id=str(row.id),
                     payload={"otp_id": row.id, "outbox_id": message.id,
                              "asset_id": asset.id if asset else None,
                              "subject_ref": subject.id if subject else None})
    return {"success": True, "message": "OTP sent successfully", "expires_in": OTP_TTL}


class OtpRefused(DomainError):
    """400 (a domain error without a status of its own): a wrong, expired or unknown OTP."""


def verify_otp(org, data: dict, actor: str) -> dict:
    phone = phone_of(data)
    find_asset_or_404(org, data.get("assetId"))
    failure = None
    with transaction():
        now = models.now()
        audit.lock_org(org.id)
        lookup = personal.lookup(org.id, phone, create=True)
        row = OTP_LATEST.one((org.id, lookup, 1))
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise OtpRefused("OTP expired or not found. Please request a new OTP.")
        if hmac.compare_digest(row.code_hash, _code_hash(row.salt, data["otp"])):
            sql.update(TcAccessOtp, row.id, {"used_at": now})
            action, outcome = "truconsent.rights_access.verified", "verified"
        else:
            attempts = row.attempts + 1
            burned = attempts >= MAX_ATTEMPTS
            sql.update(TcAccessOtp, row.id, {"attempts": attempts,
                                              **({"used_at": now} if burned else {})})
            action, outcome = "truconsent.rights_access.otp_failed", (
                "burned" if burned else "wrong")
        subject = ledger.find_subject(org.id, phone)
        audit.append(org.id, actor=actor, action=action, entity_type="rights_access_otp",
                     entity_id=str(row.id), payload={
                         "otp_id": row.id, "outcome": outcome,
                         "subject_ref": subject.id if subject else None})
        failure = outcome if outcome != "verified" else None
    # Raised after the commit: the attempt counts.
    if failure == "burned":
        raise TooMany("Too many incorrect attempts. Please request a new OTP.", 1)
    if failure == "wrong":
        raise OtpRefused("Invalid OTP")
    token = tokens.dumps(current_app.config["SECRET_KEY"], ACCESS_SALT,
                         {"o": org.id, "l": lookup})
    return {"accessToken": TOKEN_PREFIX + token, "dataPrincipalId": phone,
            "tokenType": "Bearer", "expiresIn": ACCESS_TTL}


# -- people's rights (``consent.core.rights.People``) ---------------------------------------------

def _lookups(person) -> list[str]:
    out = []
    for identifier in person.identifiers:
        value = personal.lookup(person.org_id, identifier)
        if value is not None:
            out.append(value)
    return out


def erase(person) -> dict:
    """Inside the erasure's transaction: the person's nominees (details NULL, marked deleted),
    their tickets' words and messages (NULL), through the erasure event; the OTP state of their
    identifiers (a phone) deleted. Returns the rows erased per table."""
    org_id, event = person.org_id, person.event
    counts = {"truconsent_nominee": 0, "truconsent_grievance": 0,
              "truconsent_grievance_message": 0, "truconsent_access_otp": 0}
    for sid in person.subject_ids:
        for row in ALL_NOMINEES_OF.all((org_id, sid)):
            if row.pd_salt is None and all(getattr(row, k) is None for k in NOMINEE_FIELDS):
                continue
            event.update(TcNominee, row, pd_salt=None, deleted_at=row.deleted_at or person.now,
                         **{k: None for k in NOMINEE_FIELDS})
            counts["truconsent_nominee"] += 1
        for ticket in GRIEVANCES_OF.all((org_id, sid)):
            for message in MESSAGES_OF.all((org_id, ticket.id)):
                if message.pd_salt is not None or message.message is not None:
                    event.erase(TcGrievanceMessage, message)
                    counts["truconsent_grievance_message"] += 1
            if ticket.pd_salt is not None or ticket.subject or ticket.description:
                event.erase(TcGrievance, ticket)
                counts["truconsent_grievance"] += 1
    for lookup in _lookups(person):
        counts["truconsent_access_otp"] += DELETE_OTPS_OF.execute((org_id, lookup)).rowcount
    return counts


def report(person) -> dict:
    """The person's nominees, grievance tickets with their messages, and OTP requests."""
    org_id = person.org_id
    out = {"nominees": [], "grievances": [], "access_otps": []}
    for sid in person.subject_ids:
        for row in ALL_NOMINEES_OF.all((org_id, sid)):
            out["nominees"].append({
                "id": row.id, **{k: getattr(row, k) for k in NOMINEE_FIELDS},
                "subject_ref": sid, "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at), "deleted_at": _iso(row.deleted_at)})
        for ticket in GRIEVANCES_OF.all((org_id, sid)):
            out["grievances"].append({
                "id": ticket.id, "ticket_id": ticket.ticket_id, "subject": ticket.subject,
                "category": ticket.category, "description": ticket.description,
                "status": ticket.status, "subject_ref": sid,
                "created_at": _iso(ticket.created_at), "updated_at": _iso(ticket.updated_at),
                "messages": [{"id": m.id, "sender": m.sender, "message": m.message,
                              "created_at": _iso(m.created_at)}
                             for m in MESSAGES_OF.all((org_id, ticket.id))]})
    for lookup in _lookups(person):
        for row in OTPS_OF.all((org_id, lookup)):
            out["access_otps"].append({
                "id": row.id, "asset_id": row.asset_id, "created_at": _iso(row.created_at),
                "expires_at": _iso(row.expires_at), "used_at": _iso(row.used_at),
                "attempts": row.attempts})
    return out if any(out.values()) else {}


_iso = rights.iso   # the report's one format
