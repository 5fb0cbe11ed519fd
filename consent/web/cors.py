"""Cross-origin access: CORS (flask-cors) for the APIs that authenticate by header, and the
allowlist of who may frame the pages that may be framed.

A dialect opts in with a :class:`CorsPolicy` on its :class:`~consent.web.dialect.Dialect`: the URL
prefixes of its header-authenticated API, the request headers its clients send and the response
headers they read. Nothing else gets CORS headers: not the pages (cookies, CSRF forms), not the
operator and control API under /ledger. Preflights are answered by Flask's automatic OPTIONS
response, to which flask-cors adds the ``Access-Control-*`` headers.

Allowed origins come from ``CONSENT_CORS_ORIGINS`` and framing ancestors from
``CONSENT_FRAME_ANCESTORS``, both lists of CSP-style sources separated by spaces or commas:

* an exact origin: ``https://app.example.com``, ``http://localhost:3000``;
* any port: ``http://localhost:*``; any subdomain: ``https://*.example.com``;
* ``*``: any origin (CORS only); ``'self'``: the service itself (frame ancestors only).

Each source becomes an anchored regular expression: flask-cors matches a pattern at the start of
the origin only, so a bare ``http://localhost*`` would also admit ``http://localhost.evil.com``.
A malformed source fails at startup, never silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_cors import CORS

_HOST = r"(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]"
_SOURCE = re.compile(rf"^(?P<scheme>https?)://(?P<host>{_HOST})(?::(?P<port>\*|[0-9]{{1,5}}))?$")


@dataclass(frozen=True)
class CorsPolicy:
    """What a dialect's header-authenticated API allows cross-origin callers."""

    paths: tuple[str, ...]                 # URL prefixes, e.g. ("/v1/",)
    allow_headers: tuple[str, ...]         # request headers its clients send
    expose_headers: tuple[str, ...] = ()   # response headers its clients read
    methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
    max_age: int = 600                     # seconds a browser may cache a preflight
    # Origin sources for these paths instead of CONSENT_CORS_ORIGINS (a dialect that checks the
    # origin itself, per record, answers every origin's preflight: "*")
    origins: str | None = None


def split_sources(setting) -> list[str]:
    if isinstance(setting, (list, tuple)):
        return [str(s).strip() for s in setting if str(s).strip()]
    return [s for s in re.split(r"[\s,]+", setting or "") if s]


def _source_regex(source: str) -> str:
    match = _SOURCE.match(source)
    if match is None:
        raise ValueError(f"not an origin source: {source!r} (use scheme://host[:port|:*])")
    host = match["host"].lower()
    host_re = (r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\." + re.escape(host[2:])
               if host.startswith("*.") else re.escape(host))
    port = match["port"]
    port_re = (r"(?::[0-9]{1,5})?" if port == "*" else f":{port}" if port else "")
    return f"^{match['scheme']}://{host_re}{port_re}$"


def origin_patterns(setting) -> list:
    """``CONSENT_CORS_ORIGINS`` as flask-cors origins: ``"*"``, or anchored regexes."""
    sources = split_sources(setting)
    if "*" in sources:
        return ["*"]
    return [re.compile(_source_regex(s), re.IGNORECASE) for s in sources]


def frame_ancestors(setting) -> str:
    """``CONSENT_FRAME_ANCESTORS`` checked source by source, as a CSP frame-ancestors value (a
    source that could end the directive or start another is refused)."""
    sources = split_sources(setting)
    for source in sources:
        if source not in ("'self'", "'none'"):
            _source_regex(source)
    return " ".join(sources) or "'none'"


def init_app(app, dialects) -> None:
    """CORS on every dialect's declared API paths (``Dialect.cors``: a policy or a tuple of
    them), with the configured origins or the policy's own."""
    origins = origin_patterns(app.config["CONSENT_CORS_ORIGINS"])
    frame_ancestors(app.config["CONSENT_FRAME_ANCESTORS"])  # fail at startup, not per request
    resources = {}
    for dialect in dialects:
        policies = dialect.cors if isinstance(dialect.cors, tuple) else (dialect.cors,)
        for policy in policies:
            if policy is not None:
                _add(resources, policy, origins if policy.origins is None
                     else origin_patterns(policy.origins))
    if resources:
        CORS(app, resources=resources)


def _add(resources: dict, policy: CorsPolicy, origins) -> None:
    for prefix in policy.paths:
        resources[re.compile("^" + re.escape(prefix))] = {
            "origins": origins, "allow_headers": list(policy.allow_headers),
            "expose_headers": list(policy.expose_headers),
            "methods": list(policy.methods) + ["OPTIONS"],
            "max_age": policy.max_age, "supports_credentials": False}
