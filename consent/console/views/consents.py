"""The consents view: the ledger's consents with the filters of ``GET /ledger/v1/consents``
(subject, purpose, status, source, from, to) in cursor pages, newest first; one consent with its
events (each linked to its audit event), its evidence, terms and uses; and a subject's timeline
across every dialect (:func:`consent.core.rights.timeline`).

Every read is the ledger's own, scoped by the organisation of the URL: the list is
:func:`consent.core.ledger.list_consents` (a keyset page on the consents' index), a consent is
:func:`consent.core.ledger.get_consent` (another organisation's id is a 404). A subject is
only ever named in the query string (``subject=``), which the access log masks."""
from __future__ import annotations

import datetime as dt
import re

from flask import request
from marshmallow import ValidationError

from consent.core import ledger, rights, usage
from consent.core.errors import Invalid, NotFound
from schemas.common import encode_cursor
from schemas.ledger import ConsentQuerySchema

from ..blueprint import bp, org, render

FILTERS = ("subject", "purpose", "status", "source", "from", "to")
PAGE = 50
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUERY = ConsentQuerySchema()


def query_args(names) -> dict:
    """The query parameters of ``names`` that hold a value (a blank filter is no filter); a NUL
    anywhere is refused (no text column holds one)."""
    out = {}
    for name in names:
        value = request.args.get(name, "")
        if "\x00" in value:
            raise Invalid(f"{name} holds a NUL character")
        value = value.strip()
        if value:
            out[name] = value
    return out


def invalid(error: ValidationError) -> Invalid:
    messages = error.normalized_messages()
    text = "; ".join(f"{field}: {' '.join(map(str, msg if isinstance(msg, list) else [msg]))}"
                     for field, msg in sorted(messages.items()))
    return Invalid(f"Check the filters: {text}")


def _filters() -> tuple[dict, dict]:
    """(the filters as given, the loaded query of the ledger API). A day alone (a date input)
    is a whole day: ``from`` its start, ``to`` up to the end of it."""
    given = query_args((*FILTERS, "cursor", "limit"))
    loading = dict(given)
    for name in ("from", "to"):
        if name in loading and _DATE.match(loading[name]):
            try:
                day = dt.date.fromisoformat(loading[name])
            except ValueError:
                raise Invalid(f"{name}: not a date") from None
            if name == "to":
                if day == dt.date.max:
                    raise Invalid("to: out of range")
                day += dt.timedelta(days=1)
            loading[name] = f"{day.isoformat()}T00:00:00"
    try:
        loaded = _QUERY.load(loading)
    except ValidationError as error:
        raise invalid(error) from None
    return given, loaded


@bp.get("/o/<org>/consents")
def consents():
    given, args = _filters()
    flt = ledger.ConsentFilter(subject=args.get("subject"), purpose=args.get("purpose"),
                               status=args.get("status"), source=args.get("source"),
                               date_from=args.get("date_from"), date_to=args.get("date_to"))
    limit = args["limit"] if "limit" in given else PAGE
    rows, next_seq = ledger.list_consents(org().id, flt, limit=limit,
                                          before_seq=args.get("cursor"))
    kept = {k: v for k, v in given.items() if k in FILTERS or k == "limit"}
    return render("console/consents.html", title="Consents", rows=rows, filters=given,
                  statuses=ledger.STATUSES, kept=kept, paged="cursor" in given,
                  next_cursor=encode_cursor(next_seq))


def _consent_id(consent_id: str) -> str:
    if "\x00" in consent_id or len(consent_id) > 64:
        raise NotFound(f"consent {consent_id[:64]!r} not found")
    return consent_id


@bp.get("/o/<org>/consents/<consent_id>")
def consents_detail(consent_id):
    consent = ledger.get_consent(org().id, _consent_id(consent_id))
    events = ledger.consent_events(consent)
    newer = ledger.newer_consent(consent)
    return render("console/consent.html", title=f"Consent {consent.id}", consent=consent,
                  events=events, newer=newer, terms=usage.terms_of(consent.id),
                  uses=usage.uses(consent.id),
                  effective=ledger.effective_status(consent, ledger.utcnow()))


@bp.get("/o/<org>/timeline")
def consents_timeline():
    subject = query_args(("subject",)).get("subject")
    if subject is not None and len(subject) > 255:
        raise Invalid("a subject identifier is at most 255 characters")
    entries = None if subject is None else rights.timeline(org().id, subject)
    status = 404 if subject is not None and entries is None else 200
    return render("console/timeline.html", status, title="Subject timeline", subject=subject,
                  entries=entries)
