"""The overview: consents per day by dialect and status (charts with their table), grants and
withdrawals per purpose, the chain, the last verification and checkpoint, failing webhooks and
rights requests coming due."""
from __future__ import annotations

from flask import current_app

from consent.web.dialect import registry

from .. import overview as numbers
from ..blueprint import bp, org, render


def _dialect_of() -> dict[str, str]:
    return {source: d.name for d in registry(current_app).dialects for source in d.sources}


@bp.get("/o/<org>/")
def overview():
    return render("console/overview.html", title="Overview",
                  data=numbers.summary(org().id, _dialect_of()))
