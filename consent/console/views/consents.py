"""The consents view (being built)."""
from __future__ import annotations

from ..blueprint import bp, render


@bp.get("/o/<org>/consents")
def consents():
    return render("console/placeholder.html", title="consents")
