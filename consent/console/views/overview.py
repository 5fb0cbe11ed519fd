"""The overview: consents per day by source and status (charts with their table), grants and
withdrawals per purpose, the chain, the last verification and checkpoint, failing webhooks and
rights requests coming due."""
from __future__ import annotations

from .. import overview as numbers
from ..blueprint import bp, org, render


@bp.get("/o/<org>/")
def overview():
    return render("console/overview.html", title="Overview", data=numbers.summary(org().id))
