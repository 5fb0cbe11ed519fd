"""Operators of an organisation (members) and their bearer session tokens, as the admin API shows
them: never a token, only its id and hint."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import BaseSchema, Limit, UTCDateTime

TOKEN_STATUSES = ("active", "expired", "revoked")


class MemberQuerySchema(BaseSchema):
    email = fields.String(validate=validate.Length(1, 254),
                          metadata={"description": "Only the member with this email address"})


class MemberSchema(Schema):
    user_id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, metadata={"example": "admin"})
    created_at = UTCDateTime(required=True, metadata={"description": "When they joined"})


class MemberPageSchema(Schema):
    items = fields.List(fields.Nested(MemberSchema), required=True)


class MemberRemovedSchema(Schema):
    user_id = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    tokens_revoked = fields.Integer(required=True, metadata={
        "description": "Their tokens that were still working, now revoked for this "
                       "organisation"})


class TokenQuerySchema(BaseSchema):
    user_id = fields.String(validate=validate.Length(1, 36),
                            metadata={"description": "Only this member's tokens"})
    email = fields.String(validate=validate.Length(1, 254),
                          metadata={"description": "Only the tokens of the member with this "
                                                   "email address"})
    status = fields.String(validate=validate.OneOf(TOKEN_STATUSES))
    limit = Limit(100, 1000)


class SessionTokenSchema(Schema):
    id = fields.String(required=True)
    user_id = fields.String(required=True)
    email = fields.String(required=True)
    hint = fields.String(required=True, allow_none=True, metadata={
        "description": "The token's last characters (null for tokens issued before hints were "
                       "kept)"})
    created_at = UTCDateTime(required=True)
    expires_at = UTCDateTime(required=True)
    revoked_at = UTCDateTime(required=True, allow_none=True, metadata={
        "description": "When it was revoked for this organisation, or everywhere"})
    status = fields.String(required=True, validate=validate.OneOf(TOKEN_STATUSES), metadata={
        "description": "For this organisation: active, expired or revoked"})


class SessionTokenPageSchema(Schema):
    items = fields.List(fields.Nested(SessionTokenSchema), required=True)
