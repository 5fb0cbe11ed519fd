"""Routes of /ledger/v1 for an organisation's operators: its members and their bearer session
tokens. Admin API key (``X-API-Key`` + ``X-Org-Id``); everything is scoped to the key's
organisation: it lists its own members and their tokens, revokes a member's token for itself
only (the token goes on working for the user's other organisations), and removes its own members
only. Each change takes effect on the next request (bearer tokens are checked against the
database on every request) and is one transaction with its audit event."""
from __future__ import annotations

import re

from flask.views import MethodView

from consent.core import auth
from consent.core.errors import NotFound
from consent.web.auth import ADMIN_KEY, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from schemas.operators import (
    MemberPageSchema,
    MemberQuerySchema,
    MemberRemovedSchema,
    SessionTokenPageSchema,
    SessionTokenSchema,
    TokenQuerySchema,
)

from .errors import ERRORS

blp = DialectBlueprint("operators", __name__, url_prefix="/ledger/v1", errors=ERRORS,
                       description="The organisation's operators (members) and their bearer "
                                   "session tokens (admin key): list them, revoke a token for "
                                   "this organisation, remove a member.")

TOKEN_ID = re.compile(r"[0-9A-Za-z-]{1,36}")
NO_MEMBER = "No such member of this organisation"
NO_TOKEN = "No such token of this organisation's members"


@blp.route("/members")
class Members(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(MemberQuerySchema(), location="query")
    @blp.response(200, MemberPageSchema)
    def get(self, args):
        """The organisation's members (operators), oldest first"""
        return {"items": auth.members(current_org().id, email=args.get("email"))}


@blp.route("/members/<uuid:user_id>")
class MemberById(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, MemberRemovedSchema)
    @blp.errors(**{"404": NO_MEMBER})
    def delete(self, user_id):
        """Remove a member from the organisation

        From the next request on, none of their bearer tokens works for this organisation: the
        tokens still working are revoked for it (adding them again does not bring those back);
        a user removed from every organisation can use no token at all."""
        return auth.remove_member(current_org().id, str(user_id), actor=current_actor())


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(TokenQuerySchema(), location="query")
    @blp.response(200, SessionTokenPageSchema)
    def get(self, args):
        """Bearer session tokens of the organisation's members, newest first

        Never the token itself: its id, its last characters (``hint``), when it was issued,
        when it expires, and whether it is revoked for this organisation (or everywhere)."""
        return {"items": auth.member_tokens(current_org().id, **args)}


@blp.route("/tokens/<string:token_id>/revoke")
class TokenRevoke(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, SessionTokenSchema)
    @blp.errors(**{"404": NO_TOKEN})
    def post(self, token_id):
        """Revoke a member's token for this organisation

        It stops working here on the next request; for the other organisations its user
        belongs to it is theirs to revoke. Revoking a revoked token changes nothing."""
        if not TOKEN_ID.fullmatch(token_id):  # no id the service issues: none to look up
            raise NotFound(NO_TOKEN)
        return auth.revoke_token_for_org(current_org().id, token_id, actor=current_actor())
