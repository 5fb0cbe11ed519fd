"""Server-rendered pages of every dialect: one response helper with the security headers they all
need (no caching, no framing unless asked, no sniffing, a strict Content-Security-Policy)."""
from __future__ import annotations

from flask import make_response, render_template

# No scripts, no outside resources, forms only to this service, never framed.
STRICT = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def page(template: str, status: int = 200, *, csp: str = STRICT,
         referrer: str = "no-referrer", **context):
    """Render ``template`` as a page. ``referrer``: what the browser may send on from it (a page
    whose URL carries a token keeps it to ``same-origin`` or ``no-referrer``)."""
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = referrer
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = csp
    if "frame-ancestors 'none'" in csp:
        response.headers["X-Frame-Options"] = "DENY"
    return response
