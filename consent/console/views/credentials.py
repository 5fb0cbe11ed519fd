"""The credentials view (being built)."""
from __future__ import annotations

from ..blueprint import bp, render


@bp.get("/o/<org>/credentials")
def credentials():
    return render("console/placeholder.html", title="credentials")
