"""The providers view, Avacy: webspaces (domains groups), API tokens (the organisation's
consent-scoped API keys, which Avacy's API accepts as ``Authorization: Bearer``: name, prefix,
created, revoked; never the token) and the consent archive (:func:`archive.page`: newest
first, keyset pages, searched by ``identifier=``, which the access log masks; an identifier is
looked up through its subject's keyed lookup, never by its plain value)."""
from __future__ import annotations

from flask import request
from marshmallow import ValidationError

from consent.core import auth
from consent.core.errors import Invalid
from consent.dialects.avacy import archive
from schemas.common import decode_cursor, encode_cursor

from ..blueprint import bp, org
from .providers import page_size, render_provider

IDENTIFIER_MAX = 320


@bp.get("/o/<org>/providers/avacy")
def providers_avacy():
    limit = page_size()
    identifier = request.args.get("identifier", "").strip()
    if len(identifier) > IDENTIFIER_MAX or not identifier.isprintable():
        raise Invalid(f"identifier must be printable text of at most {IDENTIFIER_MAX} "
                      "characters")
    try:
        before = decode_cursor(request.args.get("cursor"))
    except ValidationError:
        raise Invalid("cursor is not a cursor of this page") from None
    entries, next_id = archive.page(org(), identifier=identifier or None, limit=limit,
                                    before_id=before)
    tokens = [c for c in auth.credentials(org().id, "api_key") if "consent" in c.scope_set]
    return render_provider("avacy.html", "Avacy", webspaces=archive.webspaces(org()),
                           tokens=tokens, entries=[archive.describe(e) for e in entries],
                           identifier=identifier, limit=limit,
                           next_cursor=encode_cursor(next_id),
                           first_page=request.args.get("cursor") in (None, ""))
