"""The service under gunicorn (``gunicorn.conf.py`` uses this module; ``make run`` serves so).

* :class:`AccessLog`, gunicorn's logger with the secrets taken out: links that carry a token
  (``?t=`` of truConsent's collector links and the operator pages, the Veriff flow page
  ``/v/{session token}``, Avacy's plugin check ``/wp/validate/{tenant}/{key}/{token}``) are logged
  with the token masked, in the request line, the path, the query and the Referer (a page's own
  assets are requested with it); the headers that carry credentials (``Authorization``,
  ``X-API-Key``, ``X-AUTH-CLIENT``, cookies...) are never logged, whatever the log format names,
  nor is the user of a Basic ``Authorization``. Its error log masks the same links in messages.
* Nor does it log who a request is about: query parameters and route arguments that identify a
  person (:data:`PERSONAL_PARAMS`: ``/ledger/v1/subjects/{subject}/...``, truConsent's
  ``/user/{userId}``, ``?userId=``...) are masked, the route arguments by the app
  (:func:`masked_route`, left in the environ), so an erased person is in no log line.
* :func:`write_json_error`: what gunicorn answers itself, before the app sees a request (a request
  line over :data:`LIMIT_REQUEST_LINE` bytes: 414; headers too large: 431; a malformed request:
  400), in the service's error shape ``{code, status, message}`` as JSON instead of gunicorn's
  HTML page.
"""
from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from urllib.parse import quote, unquote, unquote_plus

from gunicorn import glogging, util

from .limits import LIMIT_REQUEST_LINE  # 4 KiB; longer is a 414

__all__ = ["AccessLog", "LIMIT_REQUEST_LINE", "answer_errors_in_json", "mask_path", "mask_query",
           "mask_target", "mask_text", "write_json_error"]

MASK = "***"

# Query parameters whose value is a secret: every page link's signed token is ``t``; the others
# are common names a client might put a credential in.
SECRET_PARAMS = frozenset({"t", "token", "access_token", "api_key", "apikey", "key", "secret",
                           "password"})
# Query parameters and route arguments whose value identifies a person (a subject's
# identifier, a user id, an e-mail address, a phone number): masked too, so that the log never
# holds what an erasure must be able to destroy (consent.core.rights).
PERSONAL_PARAMS = frozenset({"subject", "user_id", "userid", "identifier", "email", "phone",
                             "mobile", "dp_id", "dataprincipalid", "data_principal_id",
                             "end_user_id", "enduserid", "vendor_data", "vendordata",
                             "principal_id", "principalid"})
MASKED_PARAMS = SECRET_PARAMS | PERSONAL_PARAMS
# The environ key where the app leaves the request's path with its personal route arguments
# masked (:func:`masked_route`), which the access log writes instead of the path.
LOG_PATH = "consent.log_path"
# Headers that carry credentials (lower case), request or response.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "x-auth-client",
                            "vrf-auth-client", "x-hmac-signature", "vrf-hmac-signature",
                            "cookie", "set-cookie"})
SECRET_ENVIRON = frozenset("http_" + h.replace("-", "_") for h in SECRET_HEADERS)

# Paths whose segments are tokens (matched on the decoded path, slashes merged as the routing
# merges them): what is kept, and the rest masked.
_TOKEN_PATHS = (
    re.compile(r"^(/v/)(?!assets/).+"),                      # Veriff: /v/{session token}
    re.compile(r"^(/wp/validate/[^/]+/[^/]+/).+"),           # Avacy: .../{webspace key}/{token}
)
# The same inside free text (error log messages): up to a space, a quote or the query.
_TOKEN_TEXT = (
    re.compile(r"(/v/)(?!assets/)[^\s'\"?#]+"),
    re.compile(r"(/wp/validate/[^\s/'\"?#]+/[^\s/'\"?#]+/)[^\s'\"?#]+"),
    re.compile(r"([?&](?:" + "|".join(sorted(MASKED_PARAMS)) + r")=)[^&\s'\"#]+", re.I),
)
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


def mask_path(path: str | None) -> str | None:
    """A decoded path with its token segments masked (unchanged when it has none)."""
    if not path:
        return path
    merged = re.sub("/{2,}", "/", path)
    for pattern in _TOKEN_PATHS:
        found = pattern.match(merged)
        if found:
            return found.group(1) + MASK
    return path


def mask_query(query: str | None) -> str | None:
    """A raw query string with the values of :data:`SECRET_PARAMS` masked. Split on ``&`` only,
    as the application reads it, and names compared decoded (``%74=`` is ``t=``)."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, _ = part.partition("=")
        if sep and unquote_plus(name).strip().lower() in MASKED_PARAMS:
            part = f"{name}={MASK}"
        parts.append(part)
    return "&".join(parts)


def mask_target(target: str | None) -> str | None:
    """A request target as sent (``/path?query``, or an absolute URL) with its tokens masked."""
    if not target:
        return target
    prefix = ""
    found = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", target)
    if found:
        prefix, target = found.group(0), target[found.end():]
    path, sep, query = target.partition("?")
    decoded = unquote(path, errors="replace")
    masked = mask_path(decoded)
    if masked != decoded:  # re-encoded: the log line stays one line of printable characters
        path = quote(masked, safe=_SAFE_PATH)
    return prefix + path + (sep + mask_query(query) if sep else "")


_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def masked_route(rule: str, view_args: dict) -> str | None:
    """The path of a request to ``rule`` (a routing rule, ``/x/<conv:name>/y``) with its
    arguments filled in, those of :data:`PERSONAL_PARAMS` as ``***``; None when it has none."""
    names = _ARG.findall(rule)
    if not any(n.lower() in PERSONAL_PARAMS for n in names):
        return None

    def fill(found):
        name = found.group(1)
        if name.lower() in PERSONAL_PARAMS:
            return MASK
        return quote(str(view_args.get(name, "")), safe=_SAFE_PATH)
    return _ARG.sub(fill, rule)


def mask_text(text: str) -> str:
    """Free text (a log message) with token-carrying links masked."""
    for pattern in _TOKEN_TEXT:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class _MaskMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a message that does not format is logged as is
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class AccessLog(glogging.Logger):
    """gunicorn's logger, logging no secret (see the module's description)."""

    def setup(self, cfg):
        super().setup(cfg)
        if not any(isinstance(f, _MaskMessages) for f in self.error_log.filters):
            self.error_log.addFilter(_MaskMessages())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        raw_uri = environ.get("RAW_URI", "")
        routed = environ.get(LOG_PATH)   # a path with personal arguments, masked by the app
        if routed:
            query = environ.get("QUERY_STRING")
            target = routed + ("?" + mask_query(query) if query else "")
        else:
            target = mask_target(raw_uri)
        atoms["r"] = "%s %s %s" % (environ.get("REQUEST_METHOD"), target,
                                   environ.get("SERVER_PROTOCOL"))
        atoms["U"] = routed or mask_path(environ.get("PATH_INFO"))
        atoms["q"] = mask_query(environ.get("QUERY_STRING"))
        atoms["f"] = mask_target(environ.get("HTTP_REFERER")) or "-"
        atoms["u"] = "-"
        for key in list(atoms):
            if not key.startswith("{"):
                continue
            name, kind = key[1:-2], key[-1]
            if kind in "io" and name in SECRET_HEADERS or kind == "e" and name in SECRET_ENVIRON:
                atoms[key] = MASK
            elif kind == "e" and name in ("raw_uri", "request_uri") and routed:
                atoms[key] = target
            elif kind == "e" and name in ("raw_uri", "request_uri", "http_referer"):
                atoms[key] = mask_target(atoms[key])
            elif kind == "e" and name == "path_info":
                atoms[key] = routed or mask_path(atoms[key])
            elif kind == "e" and name == "query_string":
                atoms[key] = mask_query(atoms[key])
            elif kind == "i" and name == "referer":
                atoms[key] = mask_target(atoms[key])
        return atoms


# -- what gunicorn answers itself ----------------------------------------------------------------

MESSAGES = {
    414: f"The request line is longer than {LIMIT_REQUEST_LINE} bytes",
    431: "The request's header fields are too large",
}


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn's ``util.write_error``, answering JSON in the service's error shape."""
    try:
        phrase = HTTPStatus(status_int).phrase
    except ValueError:
        phrase = reason
    message = MESSAGES.get(status_int) or mask_text(mesg or "") or phrase
    body = json.dumps({"code": status_int, "status": phrase, "message": message}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Cache-Control: no-store\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def answer_errors_in_json() -> None:
    """Make gunicorn's own error answers JSON (its workers call ``util.write_error``)."""
    util.write_error = write_json_error
