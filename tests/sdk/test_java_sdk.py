"""The Java SDK (clients/java) against the real service: its JUnit 5 suite, the seed's 7.2
snippet (examples/java), and its models kept in step with the Python SDK's.

The JUnit suite runs once, in one JVM, with the demo stack of the other SDK tests (the same
fleet and data) and a second live service that allows 3 anonymous requests a minute (a real
429) and may deliver webhooks to loopback, whose real signed delivery is captured here and
handed to the Java verifier in a temp directory. The JDK and the jars come from Debian
(scripts/bootstrap.sh installs them for `make test`): when they are missing these tests fail,
they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from k8s_gpu_client import GpuManagementClient
from simulator.fleet.parse import load_fleet
from tests.analytics.conftest import ADMIN, LiveServerFactory
from tests.conftest import ROOT
from tests.sdk.conftest import DEMO_FLEET
from tests.webhooks.receiver import WebhookReceiver

JAVA_DIR = ROOT / "clients" / "java"
BUILD_SCRIPT = JAVA_DIR / "build.sh"
JAVA_LIB = Path(os.environ.get("JAVA_LIB", "/usr/share/java"))
JARS = (
    "jackson-databind.jar",
    "jackson-core.jar",
    "jackson-annotations.jar",
    "junit-platform-console-standalone.jar",
    "junit-jupiter-api.jar",
    "junit-jupiter-engine.jar",
    "opentest4j.jar",
    "apiguardian-api.jar",
)
WEBHOOK_SECRET = "java-sdk-webhook-secret"
# Every JUnit test of the suite; each must pass (none skipped) against the live service.
EXPECTED_TESTS = {
    "LiveServiceTest": {
        "listsEveryGpuOfTheFleetWithItsModel",
        "filtersAndPages",
        "createsGetsAndReleasesAnAllocation",
        "notFoundIs404WithItsCode",
        "conflictsAre409WithTheirCodeAndDetails",
        "validationFailuresNameTheField",
        "wrongKeyIs401AndViewerWriteIs403",
        "basicAuthTakesTheKeyAsPassword",
        "aRealRateLimitIs429WithRetryAfter",
        "everyAreaAnswersInItsModel",
        "webhookLifecycle",
        "batchAllocatesAllOrNone",
        "accountsKeysAndTokens",
    },
    "RetryTest": {
        "a429IsRetriedAfterItsRetryAfterThenSucceeds",
        "a429OnAPostIsRetriedToo",
        "retriesAreBoundedThenTheErrorIsThrown",
        "aRetryAfterBeyondTheCapIsThrownAtOnce",
        "the503OfAGetIsRetriedWithBackoffButNeverThatOfAPost",
        "the503RetryAfterHeaderIsHonoured",
        "maxRetriesZeroTurnsRetryingOff",
        "aRefusedConnectionIsATransportError",
    },
    "ClientRequestTest": {
        "pathSegmentsAndQueryValuesAreEncodedAndNullsLeftOut",
        "basicAuthAndTheEnvironment",
        "theActuatorIsBesideTheApiBaseAndAnswersWithoutAnEnvelope",
        "pagesCarryTheirPaginationAndRateLimitsAreKept",
        "aSuccessStatusWithoutAnEnvelopeIsAnError",
        "aSlowAnswerIsATransportErrorAfterTheTimeout",
    },
    "ErrorEnvelopeTest": {
        "theNewEnvelopeWithStringDetailsFieldsAndContext",
        "todaysObjectDetailsBecomeTheirJsonText",
        "nullDetailsAndRetryAfterFromTheEnvelopeOrTheHeader",
        "unknownCodesAreKeptAndNonEnvelopesGetAnHttpCode",
        "aRetryAfterDateIsSecondsFromNow",
    },
    "JsonModelTest": {
        "theSeedsDeviceExampleParses",
        "unknownFieldsAreKeptAndWrittenBack",
        "valuesOfTheWrongTypeBecomeNull",
        "offsetAndNaiveTimesAreUtc",
        "apiNamesThatAreNotCamelCaseOfTheField",
        "theRequestLeavesUnsetFieldsOut",
    },
    "WebhookSignatureTest": {
        "aDeliveryIsVerifiedAndParsed",
        "anotherSecretAlteredBytesOrAnotherHeaderAreRefused",
        "anAttemptIsVerifiedByItsOwnSignatureAndTime",
        "attemptsThatDoNotVerifyAreRefused",
        "theBodySignatureAloneAllowsTheEventADay",
        "aRealDeliveryOfTheService",
    },
}


def require_java_toolchain() -> None:
    """Fail (never skip) when the JDK or Debian's jars are missing."""
    missing = [tool for tool in ("javac", "java", "jar") if shutil.which(tool) is None]
    missing += [str(JAVA_LIB / jar) for jar in JARS if not (JAVA_LIB / jar).is_file()]
    if missing:
        pytest.fail(
            "the Java SDK's tests need default-jdk-headless, libjackson2-databind-java and junit5 "
            f"(scripts/bootstrap.sh test installs them); missing: {', '.join(missing)}"
        )


def run_build(*arguments: str, build_dir: Path, env: dict[str, str] | None = None) -> str:
    environment = {**os.environ, **(env or {}), "JAVA_BUILD_DIR": str(build_dir)}
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        f"build.sh {' '.join(arguments)}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def java_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SDK compiled and packaged once for this module."""
    require_java_toolchain()
    build_dir = tmp_path_factory.mktemp("java-sdk-build")
    run_build("build", build_dir=build_dir)
    return build_dir


def expected_devices() -> str:
    """``deviceId=modelId,...`` of every GPU of the demo fleet, from the fleet file."""
    fleet = load_fleet(DEMO_FLEET)
    return ",".join(
        f"{node.name}-GPU-{gpu.index:02d}={gpu.model.model_id}"
        for node in fleet.nodes
        for gpu in node.gpus
    )


def capture_delivery(api: str, directory: Path) -> Path:
    """A real signed WEBHOOK_TEST delivery of the service at ``api``, its raw body and headers
    written to ``directory`` for the Java test."""
    with WebhookReceiver() as receiver:
        response = requests.post(
            api + "/webhooks",
            json={
                "name": "java-sdk-receiver",
                "url": receiver.url + "/hook",
                "events": ["GPU_OVERHEATING"],
                "secret": WEBHOOK_SECRET,
            },
            headers=ADMIN,
            timeout=30,
        )
        assert response.status_code == 201, response.text
        webhook_id = response.json()["data"]["webhookId"]
        queued = requests.post(f"{api}/webhooks/{webhook_id}/test", headers=ADMIN, timeout=30)
        assert queued.status_code == 202, queued.text
        (delivery,) = receiver.wait_for(lambda r: r.path == "/hook", timeout=60)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "body").write_bytes(delivery.body)
    (directory / "signature").write_text(delivery.headers["X-Signature-256"])
    (directory / "webhook-signature").write_text(delivery.headers["X-Webhook-Signature"])
    (directory / "webhook-timestamp").write_text(delivery.headers["X-Webhook-Timestamp"])
    (directory / "secret").write_text(WEBHOOK_SECRET)
    (directory / "webhook-id").write_text(webhook_id)
    return directory


def junit_results(reports: Path) -> dict[str, dict[str, str]]:
    """Class -> test -> outcome (passed, failed, error, skipped) from the launcher's XML."""
    results: dict[str, dict[str, str]] = {}
    for report in reports.glob("*.xml"):
        for case in ET.parse(report).getroot().iter("testcase"):
            outcome = "passed"
            for kind in ("failure", "error", "skipped"):
                if case.find(kind) is not None:
                    outcome = kind
            name = case.get("name", "").removesuffix("()")
            cls = case.get("classname", "").rsplit(".", 1)[-1]
            results.setdefault(cls, {})[name] = outcome
    return results


@pytest.fixture
def rate_limited_api(live_server: LiveServerFactory) -> str:
    """A second service: 3 anonymous requests a minute, webhooks delivered to loopback."""
    server = live_server(
        workers=1,
        rate_limit_anonymous_per_minute="3",
        webhook_allowed_cidrs="127.0.0.0/8,::1/128",
        webhook_dispatch_interval_seconds="0.2",
    )
    return server.api


def test_java_sdk_suite_against_the_live_service(
    java_build: Path,
    api_base: str,
    admin_key: str,
    viewer_key: str,
    rate_limited_api: str,
    tmp_path: Path,
) -> None:
    delivery = capture_delivery(rate_limited_api, tmp_path / "delivery")
    output = run_build(
        "test",
        build_dir=java_build,
        env={
            "GPU_API_BASE_URL": api_base,
            "GPU_API_KEY": admin_key,
            "GPU_API_VIEWER_KEY": viewer_key,
            "GPU_EXPECTED_DEVICES": expected_devices(),
            "GPU_API_RATE_LIMITED_BASE_URL": rate_limited_api,
            "GPU_WEBHOOK_DELIVERY_DIR": str(delivery),
        },
    )
    results = junit_results(java_build / "test-reports")
    not_passed = {
        f"{cls}.{name}": outcome
        for cls, tests in results.items()
        for name, outcome in tests.items()
        if outcome != "passed"
    }
    assert not not_passed, f"{not_passed}\n{output}"
    for cls, names in EXPECTED_TESTS.items():
        assert names <= set(results.get(cls, {})), (cls, names - set(results.get(cls, {})))


def test_seed_java_snippet_runs_as_written(
    java_build: Path, api_base: str, admin_key: str, client: GpuManagementClient, tmp_path: Path
) -> None:
    classpath = run_build("classpath", build_dir=java_build).strip()
    classes = tmp_path / "classes"
    compiled = subprocess.run(
        [
            *("javac", "-Xlint:all", "-Werror", "-cp", classpath, "-d", str(classes)),
            str(ROOT / "examples" / "java" / "SeedSnippet.java"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    environment = {**os.environ, "API_BASE": api_base, "API_KEY": admin_key}
    ran = subprocess.run(
        ["java", "-cp", f"{classes}{os.pathsep}{classpath}", "SeedSnippet"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    try:
        assert ran.returncode == 0, ran.stderr
        lines = ran.stdout.splitlines()
        listed = int(lines[0].removeprefix("devices: "))
        assert listed == len(client.devices.list())
        allocation_id, resource_type, resource, status = lines[listed + 1].split()[1:5]
        assert allocation_id.startswith("ALLOC-") and status == "ALLOCATED"
        assert resource_type == "MIG_INSTANCE" and "-MIG-" in resource
        assert client.allocations.get(allocation_id).pod_name == "vllm-pod"
    finally:
        for allocation in client.allocations.list(namespace="model-serving"):
            if allocation.pod_name == "vllm-pod" and allocation.allocation_id:
                client.allocations.release(allocation.allocation_id)


def test_java_models_are_generated_from_the_python_sdk() -> None:
    """clients/java/generate_models.py --check: a Python model changed without regenerating."""
    result = subprocess.run(
        [sys.executable, str(JAVA_DIR / "generate_models.py"), "--check"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stderr}\nrun: PYTHONPATH=. .venv/bin/python clients/java/generate_models.py"
    )


def test_the_sdk_builds_without_the_live_service(java_build: Path) -> None:
    assert (java_build / "gpu-management-client.jar").is_file()
