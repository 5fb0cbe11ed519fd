"""Helpers of the Avacy tests: a tenant with a webspace and a token, the documented request, and
PHP's ``http_build_query`` (written from PHP's documented rules; cross-checked against ``php``
itself where php-cli is installed)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from urllib.parse import quote_plus

from consent.dialects.avacy import archive

PHP = shutil.which("php")
FORM = "application/x-www-form-urlencoded"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

UNAUTHENTICATED = {"message": "Unauthenticated"}

DOCUMENTED = {
    "subject": {"email": "test@email.it", "first_name": "Mario", "last_name": "Rossi",
                "age": 33, "address": "Example Street 123"},
    "identifier": "email",
    "ip_address": "12.64.193.89",
    "proofs": "<html></html>",
    "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
    "preferences": [{"name": "newsletter", "accepted": True},
                    {"name": "updates", "accepted": True}],
}


class Tenant:
    """An organisation as Avacy's tenant: webspace (domains group) 1 and an API token."""

    def __init__(self, org):
        self.org = org
        self.slug = org.slug
        self.webspace = archive.create_webspace(org, "site")
        self.token = archive.create_token(org).key

    def headers(self, token: str | None = None, **extra) -> dict:
        """What the WordPress plugin sends (``Accept`` and ``Authorization``)."""
        return {"Accept": "application/json",
                "Authorization": f"Bearer {token or self.token}", **extra}

    def path(self, channel: str = "domains_groups", number: int | None = None) -> str:
        number = self.webspace.number if number is None else number
        prefix = {"domains_groups": "domains_groups", "v2": "v2/webspaces",
                  "v4": "v4/webspaces"}[channel]
        return f"/{self.slug}/{prefix}/{number}/consents"

    def post_json(self, client, channel, body, **headers):
        return client.post(self.path(channel), json=body, headers=self.headers(**headers))

    def post_form(self, client, channel, body: str | bytes, content_type: str = FORM,
                  **headers):
        return client.post(self.path(channel), data=body,
                           headers=self.headers(**headers, **{"Content-Type": content_type}))


# -- PHP's http_build_query -----------------------------------------------------------------------

def php_urlencode(text: str) -> str:
    """PHP's urlencode (RFC 1738): letters, digits and ``-_.`` stay; a space is ``+``;
    every other byte of the UTF-8 text is ``%XX`` (``~`` included, unlike RFC 3986)."""
    return quote_plus(text, safe="").replace("~", "%7E")


def _php_scalar(value) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"no PHP scalar for {value!r} in these tests")


def http_build_query(data: dict) -> str:
    """``http_build_query($data, '', '&')`` as PHP documents it: each scalar is
    ``urlencode(key)=urlencode(value)`` joined by ``&``; a nested array's key is
    ``parent[key]`` (brackets encoded with the rest: ``%5B``, ``%5D``), list indexes included;
    ``null`` and empty arrays send nothing; ``true``/``false`` are ``1``/``0``."""
    parts: list[str] = []

    def walk(value, key: str) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}[{k}]")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        else:
            parts.append(f"{php_urlencode(key)}={php_urlencode(_php_scalar(value))}")

    for key, value in data.items():
        walk(value, str(key))
    return "&".join(parts)


def php_http_build_query(data: dict) -> str | None:
    """PHP's own output for the same array (json_decode'd), or None without php-cli."""
    if PHP is None:
        return None
    done = subprocess.run(
        [PHP, "-r", 'echo http_build_query(json_decode($argv[1], true), "", "&");', "--",
         json.dumps(data)], capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def plugin_body(payload: dict) -> str:
    """The body wp_remote_request sends for the plugin's array payload. The encoder above always
    runs; where php-cli is installed, PHP must produce the very same bytes."""
    ours = http_build_query(payload)
    theirs = php_http_build_query(payload)
    if theirs is not None:
        assert ours == theirs, f"encoder differs from PHP:\n{ours}\n{theirs}"
    return ours
