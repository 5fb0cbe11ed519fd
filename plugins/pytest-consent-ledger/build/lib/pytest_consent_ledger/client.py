"""A small HTTP client of the control API (``/_control``), standard library only."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request


class ControlError(Exception):
    def __init__(self, status: int, body):
        super().__init__(f"control API answered {status}: {body}")
        self.status, self.body = status, body


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body) if self.body else None


class Ledger:
    """A running service: ``base_url``, ``credentials`` (``seed-demo --json``: one section per
    dialect, plus ``org`` and ``ledger``), and the controls of the demo organisation."""

    def __init__(self, base_url: str, credentials: dict):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials

    def __getitem__(self, dialect: str) -> dict:
        return self.credentials[dialect]

    # -- plain HTTP --------------------------------------------------------------------------
    def request(self, method: str, path: str, *, json_body=None, data: bytes | str | None = None,
                headers: dict | None = None, timeout: float = 30.0) -> Response:
        """Any request to the service; never raises on an HTTP error status."""
        headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        if isinstance(data, str):
            data = data.encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as answer:
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as answer:
            return Response(answer.code, dict(answer.headers), answer.read())

    def _control(self, method: str, path: str, body=None, query: dict | None = None):
        admin = {"X-Org-Id": self.credentials["org"]["slug"],
                 "X-API-Key": self.credentials["ledger"]["admin_api_key"]}
        if query:
            path += "?" + urllib.parse.urlencode({k: v for k, v in query.items()
                                                  if v is not None})
        answer = self.request(method, "/_control" + path, json_body=body, headers=admin)
        if answer.status >= 400:
            raise ControlError(answer.status, answer.json())
        return answer.json()

    # -- reset and state ---------------------------------------------------------------------
    def reset(self) -> dict:
        """Remove the demo organisation's records (credentials and configuration stay)."""
        return self._control("POST", "/reset")

    def state(self) -> dict:
        return self._control("GET", "/state")

    # -- the clock ---------------------------------------------------------------------------
    def now(self) -> str:
        return self._control("GET", "/clock")["now"]

    def set_clock(self, now: str) -> dict:
        """Set the organisation's time (ISO 8601)."""
        return self._control("POST", "/clock", {"now": now})

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0,
                days: float = 0) -> dict:
        """Move the organisation's clock forward (negative: back)."""
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        return self._control("POST", "/clock", {"advance_seconds": total})

    def real_time(self) -> dict:
        return self._control("DELETE", "/clock")

    # -- faults ------------------------------------------------------------------------------
    def fault(self, path: str, status: int | None = None, *, method: str | None = None,
              count: int | None = None, percent: float | None = None,
              latency_ms: int | None = None, drop: bool | None = None,
              target: str = "request") -> int:
        """Add a fault rule; returns its id."""
        body = {"path": path, "target": target, "status": status, "method": method,
                "count": count, "percent": percent, "latency_ms": latency_ms, "drop": drop}
        return self._control("POST", "/faults",
                             {k: v for k, v in body.items() if v is not None})["id"]

    def delivery_fault(self, url_glob: str, status: int = 500, count: int = 1) -> int:
        """The next ``count`` webhook deliveries to URLs matching ``url_glob`` fail."""
        return self.fault(url_glob, status, count=count, target="delivery")

    def faults(self) -> list:
        return self._control("GET", "/faults")["items"]

    def clear_faults(self) -> int:
        return self._control("DELETE", "/faults")["deleted"]

    # -- the request journal -----------------------------------------------------------------
    def requests(self, *, method: str | None = None, path: str | None = None,
                 dialect: str | None = None, since: str | None = None,
                 limit: int = 100) -> list:
        """What the organisation's credentials sent, newest first."""
        return self._control("GET", "/requests", query={
            "method": method, "path": path, "dialect": dialect, "since": since,
            "limit": limit})["items"]

    def clear_requests(self) -> int:
        return self._control("DELETE", "/requests")["deleted"]
