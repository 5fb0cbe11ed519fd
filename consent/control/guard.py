"""Deterministic mode's guard: keys drawn from a known seed are known to anyone, so
``CONSENT_SEED`` with a bind other than loopback is refused unless ``CONSENT_SEED_FORCE=1``."""
from __future__ import annotations

import ipaddress
import logging
import os

log = logging.getLogger("consent")


class SeedRefused(SystemExit):
    pass


def _loopback(bind: str) -> bool:
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0] if ":" in bind and not bind.endswith("]") else bind
    host = host.strip("[]")
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_seed_on_public_bind(binds, environ=os.environ) -> None:
    seed = (environ.get("CONSENT_SEED") or "").strip()
    if not seed:
        return
    force = (environ.get("CONSENT_SEED_FORCE") or "").strip().lower() in ("1", "true", "yes", "on")
    public = [b for b in binds if not _loopback(b)]
    if public and not force:
        raise SeedRefused(
            f"CONSENT_SEED is set (deterministic mode: every key and token follows from the "
            f"seed) and the service would listen on {', '.join(public)}, beyond this machine. "
            f"Bind to 127.0.0.1, or set CONSENT_SEED_FORCE=1 if you mean it.")
    log.warning("deterministic mode is on (CONSENT_SEED=%s)%s", seed,
                " on a non-loopback bind (forced)" if public else "")
