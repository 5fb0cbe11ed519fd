"""Helpers for the console's tests: an operator, a signed-in test client, the CSRF token of a
page, and the console's pages in headless Chromium (sign-in by link, axe-core)."""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from consent.console import access
from consent.core import auth

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_operator(org_id: str, email: str = "ops@example.com", name: str = "Ops"):
    """A user who is a member of the organisation (created if missing); their row."""
    user = auth.user_by_email(email) or auth.create_user(email, name)
    auth.add_member(org_id, user)
    return user


def link_for(app, email: str) -> str:
    """A fresh sign-in link (absolute URL) for the operator with this e-mail."""
    with app.test_request_context():
        return access.sign_in_link(access.operator_by_email(email))


def sign_in(client, app, email: str = "ops@example.com"):
    """Sign the test client in through a sign-in link; returns the redirect response."""
    link = urlsplit(link_for(app, email))
    assert client.get(f"{link.path}?{link.query}").status_code == 200
    token = link.query.split("t=", 1)[1]
    response = client.post(link.path, data={"t": token})
    assert response.status_code == 303, response.data[:500]
    return response


def csrf_of(html: bytes | str) -> str:
    text = html.decode() if isinstance(html, bytes) else html
    found = CSRF.search(text)
    assert found, "no CSRF token in the page"
    return found.group(1)


def post_form(client, path: str, data: dict | None = None, page: str | None = None):
    """POST a console form with the CSRF token of ``page`` (default: the overview)."""
    source = client.get(page or path.rsplit("/", 1)[0] + "/")
    return client.post(path, data={"csrf": csrf_of(source.data), **(data or {})})


def page_of(response) -> str:
    """A console page's HTML (entities decoded)."""
    assert response.headers["Content-Type"].startswith("text/html")
    return html.unescape(response.get_data(as_text=True))


def walk_pages(client, url: str, next_label: str):
    """Follow a console list's "next" links from ``url``: yields each page's text and the link
    to the next page (None on the last)."""
    while url:
        response = client.get(url)
        assert response.status_code == 200
        text = page_of(response)
        found = re.search(rf'<a href="([^"]+)" rel="next">{re.escape(next_label)}</a>', text)
        url = found.group(1) if found else None
        yield text, url
