"""The providers view: each dialect's own configuration, one sub-page per provider
(``providers_<dialect>.py``), linked from this index and from each other (``SUB_NAV``).

Shared here: the keyset cursor of their lists (``before=``: an opaque, url-safe encoding of
the (created_at, id) the previous page ended with) and the page size parameter; a malformed
one is a 400 page, never a 5xx."""
from __future__ import annotations

import base64
import binascii
import datetime as dt

from flask import request

from consent.core.errors import Invalid

from ..blueprint import bp, render

# (endpoint, label, what it holds): the sub-navigation of every provider page.
SUB_NAV = (
    ("console.providers_truconsent", "truConsent",
     "Assets, collection points and their banners, consent links"),
    ("console.providers_veriff", "Veriff",
     "Integrations and their webhooks, sessions and their decisions"),
    ("console.providers_avacy", "Avacy", "Webspaces, API tokens and the consent archive"),
    ("console.providers_attestr", "Attestr", "Clients, consents and their exports"),
)

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
_MAX_CURSOR = 200


def encode_cursor(before: tuple | None) -> str | None:
    """The ``before=`` value of the next page (None: there is none)."""
    if before is None:
        return None
    at, row_id = before
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(name: str = "before") -> tuple | None:
    """The (created_at, id) of the ``before=`` query parameter, or None; Invalid (400) when it
    is not a cursor these pages issued."""
    text = request.args.get(name)
    if not text:
        return None
    try:
        if len(text) > _MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, row_id = raw.split("|", 1)
        parsed = dt.datetime.fromisoformat(at)
        if parsed.tzinfo is not None or not row_id or not row_id.isprintable():
            raise ValueError
        return parsed, row_id
    except (ValueError, binascii.Error, UnicodeError):
        raise Invalid(f"{name} is not a cursor of this page") from None


def page_size(name: str = "limit") -> int:
    """The ``limit=`` query parameter (default :data:`PAGE_SIZE`); Invalid (400) outside
    1..:data:`MAX_PAGE_SIZE`."""
    text = request.args.get(name)
    if text in (None, ""):
        return PAGE_SIZE
    if not (text.isascii() and text.isdigit() and len(text) <= 4
            and 1 <= int(text) <= MAX_PAGE_SIZE):
        raise Invalid(f"{name} must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(text)


def render_provider(template: str, title: str, **ctx):
    return render(f"console/providers/{template}", title=title, sub_nav=SUB_NAV, **ctx)


@bp.get("/o/<org>/providers")
def providers():
    return render_provider("index.html", "Providers")
