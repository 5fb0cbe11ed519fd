"""The audit view (being built)."""
from __future__ import annotations

from ..blueprint import bp, render


@bp.get("/o/<org>/audit")
def audit():
    return render("console/placeholder.html", title="audit")
