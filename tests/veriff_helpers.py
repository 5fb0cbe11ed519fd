"""Helpers of the Veriff tests: a client-side integration that signs exactly as Veriff's clients
do, and Veriff's error bodies."""
from __future__ import annotations

import hashlib
import hmac
import json

from consent.dialects.veriff.service import create_integration

FAIL_MISSING_KEY = {"status": "fail", "code": "1101", "message":
                    "Mandatory X-AUTH-CLIENT header containing the API key is missing from the "
                    "request."}
FAIL_VALIDATION = {"status": "fail", "code": "1101", "message": "Validation failed"}
FAIL_NOT_FOUND = {"status": "fail", "code": "1101", "message": "Resource not found"}
FAIL_500 = {"status": "fail", "code": "1101", "message": "Something went wrong"}
UNKNOWN_KEY = "Integration with the API key in X-AUTH-CLIENT was not found."
MISSING_SIG = ("Mandatory X-HMAC-SIGNATURE header containing the SHA256 hash of the payload is "
               "missing from the request.")
BAD_SIG = "Signature does not match the SHA256 hash of request body and shared secret."
BAD_ID_SIG = "Signature does not match the SHA256 hash of session id and shared secret."

CONSENT = {"type": "ine", "approved": True, "text": "User agrees to share their INE details"}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00JFIF fake image bytes" * 10


def fail(message):
    return {"status": "fail", "code": "1101", "message": message}


def sign(secret: str, payload: bytes) -> str:
    """Exactly what a client does: lowercase hex HMAC-SHA256 of the bytes it sends."""
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def dumps(payload) -> bytes:
    """JSON.stringify's output (compact), as the official demo client sends it."""
    return json.dumps(payload, separators=(",", ":")).encode()


class Integration:
    def __init__(self, org, name="test integration"):
        issued = create_integration(org, name=name)
        self.key, self.secret, self.id = issued.key, issued.shared_secret, issued.credential.id

    def headers(self, payload: bytes | str | None = None, **extra):
        out = {"X-AUTH-CLIENT": self.key, "Content-Type": "application/json"}
        if payload is not None:
            data = payload.encode() if isinstance(payload, str) else payload
            out["X-HMAC-SIGNATURE"] = sign(self.secret, data)
        out.update(extra)
        return out

    def post(self, client, path, payload=None, *, raw: bytes | None = None, sign_with=None,
             method="post", **extra):
        data = raw if raw is not None else dumps(payload)
        headers = {"X-AUTH-CLIENT": self.key, "Content-Type": "application/json",
                   "X-HMAC-SIGNATURE": sign(sign_with or self.secret, data)}
        headers.update(extra)
        headers = {k: v for k, v in headers.items() if v is not None}
        return getattr(client, method)(path, data=data, headers=headers)

    def get(self, client, path, session_id, method="get", **extra):
        """A GET (or DELETE) signed over the session id."""
        headers = {"X-AUTH-CLIENT": self.key, "X-HMAC-SIGNATURE": sign(self.secret,
                                                                       session_id.encode())}
        headers.update(extra)
        return getattr(client, method)(path, headers={k: v for k, v in headers.items()
                                                      if v is not None})

    def create_session(self, client, verification=None) -> str:
        body = {"verification": verification if verification is not None else
                {"callback": "https://example.com/callback", "vendorData": "user-42",
                 "person": {"firstName": "Carlos", "lastName": "Hernandez"}}}
        response = self.post(client, "/v1/sessions", body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["verification"]["id"]

    def upload(self, client, session_id, payload=None, **kw):
        return self.post(client, f"/v1/sessions/{session_id}/consents",
                         CONSENT if payload is None else payload, **kw)

    def assert_signed(self, response):
        """Recompute the response signature over the exact bytes received."""
        raw = response.get_data()
        assert response.headers["x-auth-client"] == self.key
        assert response.headers["vrf-auth-client"] == self.key
        expected = sign(self.secret, raw)
        assert response.headers["x-hmac-signature"] == expected
        assert response.headers["vrf-hmac-signature"] == expected
        assert hmac.compare_digest(expected, response.headers["x-hmac-signature"])
