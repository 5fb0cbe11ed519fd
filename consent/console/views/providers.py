"""The providers view (being built)."""
from __future__ import annotations

from ..blueprint import bp, render


@bp.get("/o/<org>/providers")
def providers():
    return render("console/placeholder.html", title="providers")
