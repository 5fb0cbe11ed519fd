"""The page a session's ``url`` opens: ``GET /v/<session token>``.

Veriff's own URL starts its identity flow in the browser. This stand-in does not emulate that
flow (media, consents and the submission arrive through the API, as the integration sends them);
the page shows where the session stands, so that a demo or a developer following the link sees
the real session. Only the token's SHA-256 is stored, so the token is looked up by its hash.
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template
from werkzeug.exceptions import HTTPException

from schemas.common import iso

from . import service

bp = Blueprint("veriff_pages", __name__, template_folder="templates")


def _page(status: int, **ctx):
    response = make_response(render_template("veriff/session.html", **ctx), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the session token
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _page(exc.code or 500, session=None, error=exc.description or exc.name)


@bp.get("/v/<token>")
def session_page(token: str):
    session = service.session_by_token(token)
    if session is None:
        return _page(404, session=None, error="This verification link is not valid.")
    media = [{"context": m.context, "size": m.size, "mimetype": m.mimetype,
              "timestamp": iso(m.timestamp)} for m in service.list_media(session)]
    consents = [{"type": row.type, "approved": row.approved, "binding": index == 0,
                 "created_at": iso(row.created_at)}
                for index, row in enumerate(service.session_consents(session))]
    return _page(200, session=session, created_at=iso(session.created_at),
                 submitted_at=iso(session.submitted_at), media=media, consents=consents,
                 error=None)
