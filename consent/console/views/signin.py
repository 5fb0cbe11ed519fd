"""Signing in and out, and the organisation switcher.

``GET /console/`` goes to the first organisation of a signed-in operator, else to the sign-in
page. ``/console/sign-in`` asks for an e-mail address and sends a link; the link
(``/console/sign-in/link?t=...``) shows one button whose POST signs in (a mail scanner that
fetches the link signs nobody in). Signing out revokes the session token."""
from __future__ import annotations

from flask import redirect, request, url_for

from consent.core.errors import Forbidden
from consent.web import cross_site_request

from .. import access
from ..blueprint import bp, operator, render


@bp.get("/")
def index():
    session = access.signed_in_user()
    orgs = access.member_orgs(session.user_id) if session is not None else ()
    if not orgs:
        return redirect(url_for("console.sign_in"), 303)
    return redirect(url_for("console.overview", org=orgs[0].slug), 303)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "POST":
        if cross_site_request():
            raise Forbidden("This form was sent from another site.")
        email = (request.form.get("email") or "").strip()
        if not email or len(email) > 254 or "@" not in email:
            return render("console/sign_in.html", 422, email=email[:254],
                          error="Enter the e-mail address you are an operator with.")
        outcome = access.send_link(email)
        return render("console/sign_in_sent.html", 503 if outcome == "no-smtp" else 200,
                      outcome=outcome)
    return render("console/sign_in.html")


@bp.route("/sign-in/link", methods=["GET", "POST"])
def sign_in_link():
    token = request.values.get("t", "")
    if request.method == "GET":
        user, _nonce = access.read_link(token)
        return render("console/sign_in_confirm.html", token=token, email=user.email)
    if cross_site_request():
        raise Forbidden("This form was sent from another site.")
    user, session_token = access.use_link(token)
    orgs = access.member_orgs(user.id)
    response = redirect(url_for("console.overview", org=orgs[0].slug), 303)
    access.set_cookie(response, session_token)
    return response


@bp.post("/o/<org>/sign-out")
def sign_out():
    access.sign_out()
    response = redirect(url_for("console.sign_in"), 303)
    access.clear_cookie(response)
    return response


@bp.post("/o/<org>/switch")
def switch():
    """Go to another organisation of the operator's (its membership is checked there)."""
    slug = request.form.get("to", "")
    if slug not in {o.slug for o in operator().orgs}:
        raise Forbidden("You are not a member of that organisation.")
    return redirect(url_for("console.overview", org=slug), 303)
