"""Contract fuzzing: schemathesis generates requests for every operation of the OpenAPI document,
valid and invalid, authenticated as admin, and checks each answer: never a server error, status
codes, content types and bodies as documented.

The service under test is a real gunicorn (``gpu-analytics serve``) on a real SQLite file,
reading the real Prometheus of the shared history stack (tests/stack_fixtures.py), its inventory
synced from it. The document is taken at collection time from an in-process app built by the same
code (so pytest can name one test per operation); the test checks that the server serves the very
same document. Examples per operation are bounded and derandomised: the run is repeatable and its
time bounded.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from analytics import create_app
from analytics.settings import Settings
from devstack.stack import Stack
from tests.analytics.conftest import ADMIN, LiveServer, LiveServerFactory
from tests.stack_fixtures import history_stack  # noqa: F401 (a fixture)

EXAMPLES_PER_OPERATION = 12
DOCS = "/k8s-monitor/api-docs"


def _document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(
            Settings(data_dir=Path(data_dir), sync_interval_seconds=0, forecast_warmup=False)
        )
        document: dict[str, Any] = app.test_client().get(DOCS).get_json()
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def fuzz_server(
    history_stack: Stack,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    # live_server is function-scoped; one server per module is enough here.
    from tests.analytics import conftest

    base = tmp_path_factory.mktemp("fuzz")
    factory = conftest.live_server.__wrapped__(base, "")  # type: ignore[attr-defined]
    start: LiveServerFactory = next(factory)
    try:
        server: LiveServer = start(
            workers=2,
            prometheus_url=history_stack.prometheus_url,
            rate_limit_enabled="false",
            sync_interval_seconds="0",
        )
        synced = requests.post(f"{server.api}/gpu/metrics/collect", headers=ADMIN, timeout=30)
        assert synced.status_code == 200, synced.text
        assert DOCUMENT["servers"][0]["url"] == server.api.removeprefix(server.url)
        served = requests.get(server.url + DOCS, timeout=10).json()
        assert served == DOCUMENT, "the server's OpenAPI document differs from the collected one"
        yield server
    finally:
        next(factory, None)  # the factory's clean-up: stops every server it started


def not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """500 and up is a failure, except 503 METRICS_UNAVAILABLE: the documented answer when
    Prometheus cannot answer in time."""
    if response.status_code >= 500:
        code = None
        with contextlib.suppress(ValueError):
            code = response.json().get("error", {}).get("code")
        assert response.status_code == 503 and code == "METRICS_UNAVAILABLE", (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )
    return None


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_honours_its_contract(case: Any, fuzz_server: LiveServer) -> None:
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    case.call_and_validate(
        # The document's paths are relative to its server URL (the API's base path).
        base_url=fuzz_server.url + DOCUMENT["servers"][0]["url"],
        headers=ADMIN,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
