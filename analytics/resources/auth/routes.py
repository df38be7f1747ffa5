"""Auth endpoints: a token for a password or a key; users and API keys (the admin role)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import principal, services
from analytics.api.envelope import ApiBlueprint
from analytics.errors import ValidationFailed
from analytics.resources.auth.schemas import (
    ApiKeyCreateSchema,
    ApiKeyQuerySchema,
    ApiKeySchema,
    NewApiKeySchema,
    PasswordSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)

blp = ApiBlueprint(
    "auth",
    __name__,
    url_prefix="/k8s-monitor/api/v1",
    description="Accounts, API keys and tokens (docs/auth.md).",
)


@blp.route("/auth/token")
class Token(MethodView):
    @blp.doc(operationId="issueToken")
    @blp.envelope_response(200, TokenSchema)
    def post(self) -> Any:
        """Exchange a password or an API key for a short-lived token

        Send a user's password (HTTP basic) or an API key (Bearer or X-API-Key); the answer is
        an HS256 JWT (claims sub, role, team, iss, iat, exp) to send as
        `Authorization: Bearer ...` until it expires (jwt_lifetime_seconds, 15 minutes by
        default). A token is not exchanged for another (403). 404 when the server has no
        signing key configured. Failed password logins are limited per user and address (429).
        """
        return services().auth.issue_token(principal())


@blp.route("/users")
class Users(MethodView):
    @blp.doc(operationId="listUsers")
    @blp.envelope_response(200, UserSchema, many=True)
    def get(self) -> Any:
        """Users (admin role; never their password hashes)"""
        return services().users.list_users()

    @blp.doc(operationId="createUser")
    @blp.arguments(UserCreateSchema)
    @blp.envelope_response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a user (admin role)

        409 RESOURCE_ALREADY_EXISTS for a name that is taken.
        """
        return services().users.create(**body)


@blp.route("/users/<string:username>")
class User(MethodView):
    @blp.doc(operationId="getUser")
    @blp.envelope_response(200, UserSchema)
    def get(self, username: str) -> Any:
        """One user (admin role)"""
        return services().users.get(username)

    @blp.doc(operationId="updateUser")
    @blp.arguments(UserUpdateSchema)
    @blp.envelope_response(200, UserSchema)
    def patch(self, body: dict[str, Any], username: str) -> Any:
        """Disable or enable a user, or change their role or team (admin role)

        A disabled user's password, API keys and tokens are refused at once.
        """
        return services().users.update(username, **body)


@blp.route("/users/<string:username>/password")
class Password(MethodView):
    @blp.doc(operationId="setUserPassword")
    @blp.arguments(PasswordSchema)
    @blp.envelope_response(200, UserSchema)
    def put(self, body: dict[str, Any], username: str) -> Any:
        """Set a user's password (admin), or change one's own (with currentPassword)"""
        return services().users.change_own_password(
            principal(), username, body.get("current_password"), body["password"]
        )


@blp.route("/api-keys")
class ApiKeys(MethodView):
    @blp.doc(operationId="listApiKeys")
    @blp.arguments(ApiKeyQuerySchema, location="query")
    @blp.envelope_response(200, ApiKeySchema, many=True)
    def get(self, query: dict[str, Any]) -> Any:
        """API keys, revoked ones included (admin role; never the keys themselves)"""
        return services().api_keys.list_keys(query.get("username"))

    @blp.doc(operationId="createApiKey")
    @blp.arguments(ApiKeyCreateSchema)
    @blp.envelope_response(201, NewApiKeySchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create an API key for a user (admin role); the key is shown in this answer only

        The key's role may not exceed its user's (403); it stops working while its user is
        disabled, and when revoked.
        """
        username = body.get("username") or principal().account
        if username is None:
            raise ValidationFailed(
                "Name the user the key acts for (username).", {"username": ["required"]}
            )
        return services().api_keys.create(body["role"], body.get("name"), username)


@blp.route("/api-keys/<string:keyId>")
class ApiKey(MethodView):
    @blp.doc(operationId="revokeApiKey")
    @blp.envelope_response(200, ApiKeySchema)
    def delete(self, keyId: str) -> Any:
        """Revoke an API key (admin role); it is refused from now on, and so are its tokens"""
        return services().api_keys.revoke(keyId)
