"""The webhooks view (being built)."""
from __future__ import annotations

from ..blueprint import bp, render


@bp.get("/o/<org>/webhooks")
def webhooks():
    return render("console/placeholder.html", title="webhooks")
