"""Where a webhook may go, and one POST to exactly the address that was checked.

Every webhook URL is checked twice: when a tenant sets it (:func:`check_url`, one function every
dialect calls, which answers :class:`~consent.core.errors.Invalid` with a clear message) and at
each delivery (:class:`Post`), because what a name resolves to may change in between (DNS
rebinding). A check resolves the host once (``socket.getaddrinfo``) and refuses the URL if *any*
address it resolves to is refused; a delivery then connects to the address it checked, never to a
second lookup of the name, with the original ``Host`` header and, for https, TLS whose
certificate is verified against the original host name.

Refused: the unspecified address, loopback, link-local (where cloud metadata services answer:
169.254.169.254, fd00:ec2::254), multicast, private and every other range that is not publicly
routable (shared, reserved, documentation, site-local), in each numeric form a resolver accepts
(``2130706433``, ``0x7f.1``, ``017700000001``) since the answer is what is checked; an IPv6
address that carries an IPv4 one (``::ffff:169.254.169.254``, 6to4, Teredo, NAT64) is judged by
that IPv4 address too. The well-known metadata host names (``metadata.google.internal``...) are
refused whatever they resolve to. The operator allows networks with
``CONSENT_WEBHOOK_ALLOW_NETWORKS`` (CIDRs; default loopback, so a receiver on the same machine,
a local stub or a test's, works as it is).

A delivery never follows a redirect (a 3xx is a failed attempt, its target never fetched) and
keeps of the answer only the status and, for a 2xx, 4xx or 5xx, its first
:data:`EXCERPT_BYTES` bytes.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import Invalid

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = "127.0.0.0/8 ::1/128"
EXCERPT_BYTES = 256
USER_AGENT = "consent-ledger-webhooks/1"

# Names of cloud metadata services, refused whatever they resolve to (they answer on link-local
# addresses, refused anyway, unless the operator allowed such a network).
METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog",           # Google Cloud
    "instance-data", "instance-data.ec2.internal",                     # AWS
    "metadata.azure.internal", "metadata.tencentyun.com",             # Azure, Tencent
})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Certificates of https receivers are checked against the system's trust store (tests swap in
# their own authority).
TLS = ssl.create_default_context()

_allowed: tuple[Network, ...] = ()


def networks(text: str) -> tuple[Network, ...]:
    """The CIDRs of a setting (separated by spaces or commas). ValueError names a bad one."""
    out = []
    for entry in text.replace(",", " ").split():
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"CONSENT_WEBHOOK_ALLOW_NETWORKS: not an IP network: {entry!r}") \
                from None
    return tuple(out)


def configure(allow_networks: str = DEFAULT_ALLOW) -> None:
    """Set the networks webhooks may reach besides public addresses (``create_app`` passes
    ``CONSENT_WEBHOOK_ALLOW_NETWORKS``)."""
    global _allowed
    _allowed = networks(allow_networks)


configure()


class Refused(Exception):
    """A webhook URL or address that may not be used; the message says why."""


def _allowed_by_operator(ip: Address) -> bool:
    return any(ip.version == net.version and ip in net for net in _allowed)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: Address) -> str | None:
    """Why a webhook may not go to ``ip`` (a phrase), or None if it may."""
    if _allowed_by_operator(ip):
        return None
    if ip.version == 6:
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = refusal(inner)
            if why is not None:
                return f"{why} ({inner}, embedded)"
            if ip.ipv4_mapped is not None:   # the same host as the IPv4 address, which may
                return None
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if (not ip.is_global or ip.is_reserved
            or (ip.version == 6 and ip.is_site_local)):
        return "an address that is not publicly routable"
    return None


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, every one allowed) and what to send."""

    scheme: str
    host: str             # as in the URL (lower case, no brackets); the Host header and TLS name
    port: int
    path: str             # path and query
    addresses: tuple[str, ...]


def _parts(url: str):
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused("not an http(s) URL")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise Refused("not an http(s) URL (bad port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise Refused("a webhook URL may not carry a user name or password")
    if port == 0:
        raise Refused("not an http(s) URL (bad port)")
    return parts, port or (443 if parts.scheme == "https" else 80)


def check(url: str) -> Target:
    """Resolve the URL's host once and check every address; Refused says why not."""
    parts, port = _parts(url)
    host = parts.hostname
    name = host.rstrip(".")
    if name in METADATA_NAMES:
        raise Refused(f"{host} is a cloud metadata service")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise Refused(f"the host {host} does not resolve") from None
    addresses = []
    for *_, sockaddr in found:
        text = sockaddr[0]
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise Refused(f"the host {host} does not resolve")
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise Refused(f"{host} resolves to {text}, not an IP address") from None
        why = refusal(ip)
        if why is not None:
            raise Refused(f"{host} is {why}" if host == text
                          else f"{host} resolves to {text}, {why}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, tuple(addresses))


def check_url(url: str | None, name: str) -> str | None:
    """At the time a tenant sets a webhook URL (every dialect, every route and command): the URL
    itself if webhooks may go there, None for none (None or ""); Invalid with a clear message
    naming the field ``name`` otherwise."""
    if url is None or url == "":
        return None
    try:
        check(url)
    except Refused as exc:
        message = str(exc)
        if message.startswith("not an http(s) URL"):
            raise Invalid(f"{name} must be an http(s) URL") from None
        raise Invalid(f"{name} refused: {message}. Webhooks go only to public addresses "
                      "(and to networks the operator allows)") from None
    return url


# -- one delivery attempt -------------------------------------------------------------------------

@dataclass
class Answer:
    """What an attempt came to: the status (None without an answer), an error (None for a 2xx)
    and the excerpt kept (2xx, 4xx, 5xx only)."""

    status: int | None
    error: str | None
    excerpt: str | None


class _Pinned(http.client.HTTPConnection):
    """A connection to one checked address; the Host header names the URL's host."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedTLS(_Pinned):
    default_port = 443

    def connect(self):
        super().connect()
        self.sock = TLS.wrap_socket(self.sock, server_hostname=self.host)


class Post:
    """One POST of a webhook: check, connect to a checked address, send, read the status and a
    short excerpt. :meth:`abort` (from another thread) ends it at once, with the reason given."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str], timeout: float):
        self.url, self.body, self.headers, self.timeout = url, body, headers, timeout
        self._lock = threading.Lock()
        self._conn: _Pinned | None = None
        self._aborted: str | None = None

    def abort(self, reason: str) -> None:
        with self._lock:
            if self._aborted is None:
                self._aborted = reason
            conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self) -> Answer:
        try:
            target = check(self.url)
        except Refused as exc:
            return Answer(None, f"refused, nothing sent: {exc}", None)
        kind = _PinnedTLS if target.scheme == "https" else _Pinned
        error: Exception | None = None
        conn = None
        for address in target.addresses:       # in the resolver's order, each one checked
            candidate = kind(target, address, self.timeout)
            with self._lock:
                if self._aborted is not None:
                    return Answer(None, self._aborted, None)
                self._conn = candidate
            try:
                candidate.connect()
            except (OSError, ssl.SSLError) as exc:
                candidate.close()
                error = exc
                if isinstance(exc, ssl.SSLError):
                    break                     # the host's certificate: another address won't do
                continue
            with self._lock:
                aborted = self._aborted
            if aborted is not None:
                candidate.close()
                return Answer(None, aborted, None)
            conn = candidate
            break
        if conn is None:
            return Answer(None, self._aborted or _describe(error), None)
        try:
            headers = {"User-Agent": USER_AGENT, **self.headers}
            conn.request("POST", target.path, body=self.body, headers=headers)
            answer = conn.getresponse()
            status = answer.status
            if 300 <= status < 400:
                return Answer(status, f"redirect not followed (HTTP {status})", None)
            excerpt = answer.read(EXCERPT_BYTES).decode("utf-8", "replace") \
                if status >= 200 else None
            return Answer(status, None if 200 <= status < 300 else f"HTTP {status}", excerpt)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Answer(None, self._aborted or _describe(exc), None)
        finally:
            conn.close()


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "no address to connect to"
    if isinstance(exc, ValueError) and not isinstance(exc, OSError):
        return "ValueError: the request could not be written"   # never echo a header value
    return f"{type(exc).__name__}: {exc}"
