"""Schemas of the auth endpoints: tokens, users, API keys. No schema has a password hash, and
passwords and keys are write-only, but for a created key, shown once."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc
from analytics.settings import ROLES

_USERNAME = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$",
    error="1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.",
)
_PASSWORD = validate.Length(12, 1024)
_ROLE = validate.OneOf(ROLES)


def _role(description: str, *, required: bool = False) -> Text:
    return Text(required=required, validate=_ROLE, metadata=doc(description, enum=list(ROLES)))


class TokenSchema(Schema):
    access_token = fields.String(
        data_key="accessToken",
        metadata=doc("The signed token (JWT, HS256); send it as `Authorization: Bearer ...`."),
    )
    token_type = fields.String(data_key="tokenType", metadata=doc("Always `Bearer`."))
    expires_in = fields.Integer(
        data_key="expiresIn", metadata=doc("Seconds the token is valid from now.")
    )
    expires_at = UtcDateTime(data_key="expiresAt", metadata=doc("When the token expires, UTC."))
    role = fields.String(metadata=doc("The role the token carries.", enum=list(ROLES)))
    subject = fields.String(
        metadata=doc("The token's sub claim: the user name, or key:ID for a key without user.")
    )


class UserSchema(Schema):
    username = fields.String(metadata=doc("The login name."))
    role = fields.String(metadata=doc("viewer, operator or admin.", enum=list(ROLES)))
    team = fields.String(allow_none=True, metadata=doc("The user's team, or null."))
    disabled = fields.Boolean(
        metadata=doc("A disabled user's password, keys and tokens are refused.")
    )
    created_at = UtcDateTime(data_key="createdAt", metadata=doc("When the account was made, UTC."))
    updated_at = UtcDateTime(data_key="updatedAt", metadata=doc("Last change, UTC."))


class UserCreateSchema(Schema):
    username = Text(
        required=True, validate=_USERNAME, metadata=doc("The login name.", example="alice")
    )
    password = Text(
        required=True,
        load_only=True,
        validate=_PASSWORD,
        metadata=doc("12-1024 characters; stored as a scrypt hash, never returned."),
    )
    role = _role("viewer, operator or admin.", required=True)
    team = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 128),
        metadata=doc("The user's team (1-128 characters), or null.", example="ml-platform"),
    )


class UserUpdateSchema(Schema):
    disabled = fields.Boolean(metadata=doc("true disables the account, false enables it."))
    role = _role("A new role.")
    team = Text(validate=validate.Length(0, 128), metadata=doc("A new team (empty string: none)."))


class PasswordSchema(Schema):
    password = Text(
        required=True, load_only=True, validate=_PASSWORD, metadata=doc("The new password.")
    )
    current_password = Text(
        data_key="currentPassword",
        load_only=True,
        metadata=doc("The current password: required when users change their own."),
    )


class ApiKeySchema(Schema):
    key_id = fields.String(data_key="keyId", metadata=doc("The key's id (not secret)."))
    name = fields.String(metadata=doc("A label."))
    role = fields.String(metadata=doc("The key's role (capped by its user's).", enum=list(ROLES)))
    username = fields.String(
        allow_none=True, metadata=doc("The user the key acts for; null for keys from before.")
    )
    created_at = UtcDateTime(data_key="createdAt", metadata=doc("When the key was made, UTC."))
    revoked_at = UtcDateTime(
        data_key="revokedAt", allow_none=True, metadata=doc("When it was revoked, or null.")
    )


class NewApiKeySchema(ApiKeySchema):
    key = fields.String(metadata=doc("The key itself: shown this once, stored only as a hash."))


class ApiKeyCreateSchema(Schema):
    role = _role("The key's role: at most its user's.", required=True)
    name = Text(validate=validate.Length(1, 128), metadata=doc("A label.", example="ci-bot"))
    username = Text(
        validate=_USERNAME,
        metadata=doc(
            "The user the key acts for (default: the calling user; required when the caller "
            "is not a user, e.g. the settings' admin key)."
        ),
    )


class ApiKeyQuerySchema(Schema):
    username = Text(validate=_USERNAME, metadata=doc("Only this user's keys."))
