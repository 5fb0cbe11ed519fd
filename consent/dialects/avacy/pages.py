"""The operator's view of the consent archive: ``GET /avacy/archive?t=<signed link>``.

The link is an itsdangerous signature (its own salt) over the organisation, valid one hour
(``flask --app app avacy archive-url --org SLUG``, or ``seed-demo``). The page lists the newest
entries, or those of one identifier (a search form), each with its preferences, legal notices,
request and evidence. Proofs are HTML a website sent: they are shown escaped, as text, and as a
preview in an iframe that is sandboxed (no scripts, no same origin) under a Content-Security-Policy
that allows no script at all. All page text is in the templates.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from consent.core import ledger, tokens
from consent.web import public_url
from consent.web.pages import page
from schemas.common import iso

from . import archive

bp = Blueprint("avacy_pages", __name__, template_folder="templates")

PAGE = "/avacy/archive"
MAX_AGE = 3600
LIMIT = 100


def archive_token(org) -> str:
    return tokens.dumps(current_app.config["SECRET_KEY"], tokens.Salt.ARCHIVE_PAGE,
                        {"org": org.id, "page": "avacy.archive"})


def archive_url(org) -> str:
    return f"{public_url()}{PAGE}?t={archive_token(org)}"


def _page(template: str, status: int = 200, **ctx):
    return page(template, status, **ctx)  # no referrer: the URL carries the signed link


def _message(status: int, kind: str, **ctx):
    return _page("avacy/message.html", status, kind=kind, **ctx)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _message(exc.code or 500, "http", title=exc.name, text=exc.description or "")


@bp.get(PAGE)
def archive_page():
    token = request.args.get("t", "")
    try:
        payload = tokens.loads(current_app.config["SECRET_KEY"], tokens.Salt.ARCHIVE_PAGE,
                               token, max_age=MAX_AGE)
    except tokens.SignatureExpired:
        return _message(410, "expired")
    except tokens.BadSignature:
        return _message(403, "forbidden")
    org = ledger.get_org(payload.get("org")) if isinstance(payload, dict) else None
    if org is None or payload.get("page") != "avacy.archive":
        return _message(403, "forbidden")
    identifier = request.args.get("identifier", "").replace("\x00", "").strip()[:255]
    entries, more = archive.page(org, identifier=identifier or None, limit=LIMIT)
    return _page("avacy/archive.html", org=org, token=token, identifier=identifier,
                 entries=[archive.describe(e) for e in entries], more=more is not None, iso=iso)
