"""The OpenAPI document and Swagger UI (assets served locally: clusters are often air-gapped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, Flask, Response, send_from_directory
from flask_smorest import Api

from analytics.api.envelope import ErrorEnvelopeSchema
from analytics.api.fields import UtcDateTime

SWAGGER_ASSETS = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS_URL = "/k8s-monitor/swagger-ui-assets/"

DESCRIPTION = """\
Kubernetes GPU management: GPU inventory, MIG layouts and the allocation ledger.

Every response is an envelope: `{"status": "success", "data": ..., "timestamp": ...}` or
`{"status": "error", "error": {"code", "message", "details"}, "timestamp": ...}`.
Fleet-wide lists answer the whole list unless given `page` (from 1) or `size` (1-1000 rows);
then `data` holds that page and `pagination` (`page`, `size`, `totalElements`, `totalPages`)
stands beside it. A page past the end is empty.
Credentials (docs/auth.md): a user's password over HTTP basic; an API key
(`Authorization: Bearer KEY`, `X-API-Key: KEY`, or HTTP basic with the key as password);
or a bearer JWT, issued by `POST /auth/token` for a password or a key (HS256, 15 minutes by
default) or by the configured OIDC issuer (Kubernetes service accounts, Dex, Keycloak; claims
mapped to roles). Roles: viewer reads, operator also writes, admin also manages /users and
/api-keys. Writes need the operator or admin role, and so do reads of /webhooks (webhook URLs
carry credentials); other reads may be anonymous (configurable). Failed password logins are
limited per user name and per client address (by default 5 and 20 per 5 minutes), then 429
RATE_LIMIT_EXCEEDED with Retry-After. Rate limits per minute: 1000
anonymous, 5000 per API key or account, 100 on /batch/*; every response carries X-RateLimit-Limit,
X-RateLimit-Remaining and X-RateLimit-Reset (epoch seconds). Text in requests (names, ids,
labels) may not hold control, bidirectional-formatting or line-separator characters: NUL,
U+202E and the like are 400 (VALIDATION_ERROR in a body, INVALID_PARAMETER in a query).
"""


class AnalyticsApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with our error envelope; errors are handled by api.errors."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self) -> None:
        """api.errors registers the handlers; flask-smorest's own payload is not ours."""


def api_config(version: str) -> dict[str, Any]:
    return {
        "API_TITLE": "K8s GPU Management API",
        "API_VERSION": version,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/k8s-monitor",
        "OPENAPI_JSON_PATH": "api-docs",
        "OPENAPI_SWAGGER_UI_PATH": "swagger-ui.html",
        "OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
        "API_SPEC_OPTIONS": {
            "info": {"description": DESCRIPTION},
            "servers": [{"url": "/", "description": "this server"}],
            "components": {
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "JWT or API key",
                        "description": "An API key (gak_...), a token from POST /auth/token, "
                        "or a token of the configured OIDC issuer.",
                    },
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                    "basic": {
                        "type": "http",
                        "scheme": "basic",
                        "description": "A user's name and password, or an API key as the password.",
                    },
                }
            },
            # Reads may be anonymous (configurable); writes need one of the schemes.
            "security": [{}, {"bearer": []}, {"apiKey": []}, {"basic": []}],
        },
    }


def make_api(app: Flask) -> AnalyticsApi:
    # The field is registered before init_app builds the spec: init_app documents the error
    # envelope (whose timestamp is a UtcDateTime), and a field registered later would leave it
    # untyped in the first app a process makes and typed in the next ones.
    api = AnalyticsApi()
    api.register_field(UtcDateTime, "string", "date-time")
    api.init_app(app)
    return api


def swagger_assets_blueprint() -> Blueprint:
    blueprint = Blueprint("swagger_assets", __name__)

    @blueprint.get(ASSETS_URL + "<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(SWAGGER_ASSETS, filename, max_age=86400)

    return blueprint
