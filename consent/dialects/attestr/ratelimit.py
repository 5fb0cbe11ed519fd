"""Rate limits: fixed windows counted in the database, so every worker and every instance on
one database shares them.

Each request of a client counts once in up to four windows, each only when its limit is set:
the client's current second and current UTC day for every API together ("account": codes 4291
and 4293) and for the API called ("API": 4292 and 4294). A request that would go over any limit
is refused with 429 and ``Retry-After`` (the seconds until that window ends) and counts in none
of them: the counts are taken in one transaction that rolls back. Windows are fixed, not
sliding: up to twice a per-second limit can pass across a second's boundary.
The clock is :func:`consent.dialects.attestr.models.now`, so tests move time without sleeping.
"""
from __future__ import annotations

import datetime as dt
import math

from consent.core.storage import transaction

from . import codes, models, queries
from .codes import AttestrError

EPOCH = dt.datetime(1970, 1, 1)


def _windows(client, api: str, now: dt.datetime):
    """(error, scope, unit, window, limit, seconds until the window ends), in checking order."""
    seconds = (now - EPOCH).total_seconds()
    second = math.floor(seconds)
    day = now.date().toordinal()
    until_second = max(1, math.ceil(second + 1 - seconds))
    next_day = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time())
    until_day = max(1, math.ceil((next_day - now).total_seconds()))
    return (
        (codes.ACCOUNT_RATE, "account", "s", second, client.account_per_second, until_second),
        (codes.API_RATE, api, "s", second, client.api_per_second, until_second),
        (codes.ACCOUNT_DAILY, "account", "d", day, client.account_per_day, until_day),
        (codes.API_DAILY, api, "d", day, client.api_per_day, until_day),
    )


def hit(client, api: str, now: dt.datetime | None = None) -> None:
    """Count one request of ``client`` to ``api``; raise the 429 when it goes over a limit."""
    windows = [w for w in _windows(client, api, now or models.now()) if w[4] is not None]
    if not windows:
        return
    with transaction():
        for error, scope, unit, window, limit, retry_after in windows:
            count = queries.COUNT_HIT.value((client.credential_id, scope, unit, window))
            if count > limit:
                raise AttestrError(error, retry_after=retry_after)


def purge(now: dt.datetime | None = None) -> None:
    """Drop counters of windows that are over (the worker calls this now and then)."""
    now = now or models.now()
    with transaction():
        queries.PURGE_COUNTERS.execute(("s", math.floor((now - EPOCH).total_seconds()) - 60))
        queries.PURGE_COUNTERS.execute(("d", now.date().toordinal() - 1))


def clear_org(org_id: str) -> int:
    """Drop the rate-limit windows of an organisation's clients (control mode's reset; call
    inside its transaction). Returns how many went."""
    clients = models.AttestrClient.select(models.AttestrClient.credential).where(
        models.AttestrClient.org == org_id)
    return models.AttestrRateCounter.delete().where(
        models.AttestrRateCounter.client_id.in_(clients)).execute()
