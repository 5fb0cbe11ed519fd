"""The providers view, truConsent: assets (with the origins allowed to call the SDK API for
them), collection points and their banners (display ids, purposes, consent type), the newest
consent-link requests (the phone masked, no link token), and a form that creates an asset
(``points.create_asset``: one transaction with its audit event, the operator the actor)."""
from __future__ import annotations

from flask import redirect, request, url_for

from consent.core.errors import Conflict, Invalid
from consent.dialects.truconsent import links, points

from ..blueprint import actor, bp, org
from .providers import render_provider

LINKS_SHOWN = 20
NAME_MAX = 200
DISPLAY_ID_MAX = 32


def _page(status: int = 200, **ctx):
    cps = points.collection_points(org())
    by_asset: dict[str, list] = {}
    for cp in cps:
        by_asset.setdefault(cp.asset_id, []).append(cp)
    return render_provider("truconsent.html", "truConsent", assets=points.assets(org()),
                           by_asset=by_asset, cps=cps, purpose_view=points.purpose_view,
                           requests=links.recent(org(), LINKS_SHOWN),
                           created=request.args.get("created"), **ctx), status


@bp.get("/o/<org>/providers/truconsent")
def providers_truconsent():
    return _page()


@bp.post("/o/<org>/providers/truconsent/assets")
def providers_truconsent_asset_create():
    form = {k: request.form.get(k, "") for k in ("name", "display_id", "allowed_origins",
                                                 "asset_type")}
    origins = [line.strip() for line in form["allowed_origins"].splitlines() if line.strip()]
    try:
        if len(form["name"]) > NAME_MAX or len(form["display_id"]) > DISPLAY_ID_MAX \
                or len(form["asset_type"]) > 32:
            raise Invalid(f"the name has at most {NAME_MAX} characters, the display id "
                          f"{DISPLAY_ID_MAX} and the type 32")
        if any(not v.isprintable() for v in (form["name"], form["display_id"],
                                             form["asset_type"], *origins)):
            raise Invalid("only printable characters, please")
        asset = points.create_asset(org(), form["name"], form["display_id"].strip() or None,
                                    actor(), asset_type=form["asset_type"].strip() or None,
                                    allowed_origins=origins or None)
    except (Invalid, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _page(status, error=str(exc), form=form)
    return redirect(url_for("console.providers_truconsent", created=asset.display_id), 303)
