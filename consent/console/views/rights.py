"""The rights view (being built)."""
from __future__ import annotations

from ..blueprint import bp, render


@bp.get("/o/<org>/rights")
def rights():
    return render("console/placeholder.html", title="rights")
