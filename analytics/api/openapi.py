"""The OpenAPI document and Swagger UI (assets served locally: clusters are often air-gapped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from apispec import APISpec, BasePlugin
from flask import Blueprint, Flask, Response, redirect, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from analytics.api.envelope import ErrorEnvelopeSchema
from analytics.api.fields import UtcDateTime

SWAGGER_ASSETS = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS_URL = "/k8s-monitor/swagger-ui-assets/"
# The server URL of the document; its paths are relative to it.
BASE_PATH = "/k8s-monitor/api/v1"
DOCS_PREFIX = "/k8s-monitor"

# Path parameters as the seed names them, with what they hold.
PATH_PARAMETERS: dict[str, tuple[str, str]] = {
    "deviceId": ("GPU id, {node}-GPU-{index:02d}.", "gpu-worker-1-GPU-00"),
    "allocationId": ("Allocation id, ALLOC- and 8 characters.", "ALLOC-ABC12345"),
    "namespace": ("Kubernetes namespace.", "model-serving"),
    "podName": ("Kubernetes pod name.", "vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12"),
    "nodeName": ("Kubernetes node name.", "gpu-worker-1"),
    "modelId": ("GPU model id, as in the seed.", "A100_80GB"),
    "budgetId": ("Budget id.", "BUDGET-ABC12345"),
    "webhookId": ("Webhook id.", "WH-ABC12345"),
    "username": ("A user's login name.", "alice"),
    "keyId": ("An API key's id (8 characters; not the key).", "k3x9a2mq"),
}

# The error responses every operation documents, by status: (component name, description).
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "The request must change: INVALID_PARAMETER (a query or path value, with `fields`) or "
        "VALIDATION_ERROR (the JSON body, with `fields`).",
    ),
    401: ("Unauthorized", "UNAUTHORIZED: no credentials where they are needed, or bad ones."),
    403: ("Forbidden", "FORBIDDEN: the caller's role may not do this (`context` says which)."),
    404: ("NotFound", "RESOURCE_NOT_FOUND: no such id."),
    409: (
        "Conflict",
        "The cluster's current state blocks the request; it may succeed later: "
        "GPU_NOT_AVAILABLE, INSUFFICIENT_RESOURCES, ALLOCATION_FAILED or RESOURCE_ALREADY_EXISTS.",
    ),
    413: ("PayloadTooLarge", "PAYLOAD_TOO_LARGE: the request body is too large."),
    422: (
        "Unprocessable",
        "The request can never succeed as asked: MIG_NOT_SUPPORTED or COST_LIMIT_EXCEEDED.",
    ),
    429: ("TooManyRequests", "RATE_LIMIT_EXCEEDED, with `retryAfter` seconds."),
    503: (
        "ServiceUnavailable",
        "METRICS_UNAVAILABLE (Prometheus cannot answer) or SERVICE_UNAVAILABLE (the database "
        "cannot).",
    ),
}

# Statuses only some operations answer, by operationId, with the codes they answer them with
# (the rest follow from the method, the path parameters and the body: see ContractPlugin).
STATE_CONFLICTS: dict[str, tuple[str, ...]] = {
    "registerDevice": ("RESOURCE_ALREADY_EXISTS",),
    "createMigInstances": ("GPU_NOT_AVAILABLE", "INSUFFICIENT_RESOURCES"),
    "deleteMigInstances": ("GPU_NOT_AVAILABLE",),
    "createAllocation": ("GPU_NOT_AVAILABLE", "INSUFFICIENT_RESOURCES", "ALLOCATION_FAILED"),
    "createAllocationsBatch": ("GPU_NOT_AVAILABLE", "INSUFFICIENT_RESOURCES", "ALLOCATION_FAILED"),
    "createBudget": ("RESOURCE_ALREADY_EXISTS",),
    "createUser": ("RESOURCE_ALREADY_EXISTS",),
}
NEVER_AS_ASKED: dict[str, tuple[str, ...]] = {
    "createMigInstances": ("MIG_NOT_SUPPORTED",),
    "createAllocation": ("COST_LIMIT_EXCEEDED",),
    "createAllocationsBatch": ("COST_LIMIT_EXCEEDED",),
}
# Reads that need a role (webhook URLs carry credentials).
GUARDED_READS = frozenset(
    {"listWebhooks", "getWebhook", "listWebhookDeliveries", "listUsers", "getUser", "listApiKeys"}
)
# Operations without a path parameter that answer 404 all the same (issueToken: no signing key
# is configured).
UNCONFIGURED = frozenset({"issueToken"})
_WRITES = frozenset({"post", "put", "patch", "delete"})

DESCRIPTION = """\
Kubernetes GPU management: GPU inventory, MIG layouts and the allocation ledger.

Paths are relative to the server URL, `/k8s-monitor/api/v1`. Every response is an envelope:
`{"status": "success", "data": ..., "timestamp": ...}` or
`{"status": "error", "error": {"code", "message", "details"}, "timestamp": ...}`, where
`details` is a sentence (or null), as in the seed. Structured data stands beside it: `fields`
(each field or parameter that failed, with its messages) for VALIDATION_ERROR and
INVALID_PARAMETER, `context` (e.g. the closest candidates of INSUFFICIENT_RESOURCES) for others,
`retryAfter` (seconds) for RATE_LIMIT_EXCEEDED.
Statuses: 400 for a request that must change (INVALID_PARAMETER for query and path values,
VALIDATION_ERROR for the JSON body), 401 UNAUTHORIZED, 403 FORBIDDEN, 404 RESOURCE_NOT_FOUND,
409 when the cluster's current state blocks a request that could succeed later
(GPU_NOT_AVAILABLE, INSUFFICIENT_RESOURCES, ALLOCATION_FAILED, RESOURCE_ALREADY_EXISTS), 422 when
it could never succeed as asked (MIG_NOT_SUPPORTED, COST_LIMIT_EXCEEDED), 429
RATE_LIMIT_EXCEEDED, 503 METRICS_UNAVAILABLE (Prometheus cannot answer) or SERVICE_UNAVAILABLE
(the database cannot). docs/errors.md lists which operation answers which.
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


class ContractPlugin(BasePlugin):
    """Makes the document say what the service does: paths relative to the server URL, path
    parameters described, and each operation's error statuses (400, never webargs' 422, for a
    request that fails validation; 401/403/404/409/413/422/429/503 where they can happen)."""

    def path_helper(
        self,
        path: str | None = None,
        operations: dict[Any, Any] | None = None,
        parameters: list[dict[Any, Any]] | None = None,
        **kwargs: Any,
    ) -> str | None:
        for parameter in parameters or []:
            if parameter.get("in") == "path" and parameter.get("name") in PATH_PARAMETERS:
                description, example = PATH_PARAMETERS[parameter["name"]]
                parameter.setdefault("description", description)
                parameter.setdefault("example", example)
        if path is not None and path.startswith(BASE_PATH + "/"):
            return path.removeprefix(BASE_PATH)
        return None

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[Any, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            # webargs' 422 is answered as 400 (analytics.api.errors).
            responses.pop(422, None)
            responses.pop("422", None)
            operation_id = operation.get("operationId")
            statuses = {400, 401, 429, 503}
            if method in _WRITES or operation_id in GUARDED_READS:
                statuses.add(403)
            if (path is not None and "{" in path) or operation_id in UNCONFIGURED:
                statuses.add(404)
            if "requestBody" in operation:
                statuses.add(413)
            if operation_id in STATE_CONFLICTS:
                statuses.add(409)
            if operation_id in NEVER_AS_ASKED:
                statuses.add(422)
            for status in statuses:
                responses.setdefault(status, ERROR_RESPONSES[status][0])
            # Success first, then errors by status, "default" last.
            operation["responses"] = dict(
                sorted(responses.items(), key=lambda kv: (kv[0] == "default", str(kv[0])))
            )


def register_error_responses(spec: APISpec) -> None:
    """The error responses as components, each with the error envelope."""
    for name, description in ERROR_RESPONSES.values():
        response = {"description": description, "schema": ErrorEnvelopeSchema}
        prepare_response(response, spec, "application/json")
        spec.components.response(name, response)


class AnalyticsApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with our error envelope; errors are handled by api.errors."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self) -> None:
        """api.errors registers the handlers; flask-smorest's own payload is not ours."""

    def _register_pagination_header(self) -> None:
        """Our lists page in the envelope (analytics.api.paging), not in flask-smorest's header."""


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
            "info": {
                "description": DESCRIPTION,
                "license": {
                    "name": "Apache-2.0",
                    "url": "https://www.apache.org/licenses/LICENSE-2.0",
                },
            },
            "servers": [{"url": BASE_PATH, "description": "this server"}],
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
    api = AnalyticsApi(spec_kwargs={"extra_plugins": [ContractPlugin()]})
    api.register_field(UtcDateTime, "string", "date-time")
    api.init_app(app)
    register_error_responses(api.spec)
    return api


def swagger_assets_blueprint() -> Blueprint:
    """Swagger UI's assets, and the seed's root paths of the document and the UI (``/api-docs``,
    ``/swagger-ui.html``) redirecting to the served ones."""
    blueprint = Blueprint("swagger_assets", __name__)

    @blueprint.get("/api-docs")
    def root_api_docs() -> Any:
        return redirect(DOCS_PREFIX + "/api-docs", code=308)

    @blueprint.get("/swagger-ui.html")
    def root_swagger_ui() -> Any:
        return redirect(DOCS_PREFIX + "/swagger-ui.html", code=308)

    @blueprint.get(ASSETS_URL + "<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(SWAGGER_ASSETS, filename, max_age=86400)

    return blueprint
