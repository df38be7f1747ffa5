"""client.webhooks against the demo stack: the seed's registration (5.1), changes, the delivery
log, and the Alertmanager receiver."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from k8s_gpu_client import GpuManagementClient
from k8s_gpu_client.errors import InvalidParameterError
from k8s_gpu_client.models import webhooks
from tests.sdk.recording import Recorder, assert_mirrors, mirrored_models, missing_operations

UNREACHED_URL = "https://93.184.215.14/services/T00000000/B00000000/XXXXXXXX"


def test_webhook_lifecycle_never_returns_the_secret(recorded: GpuManagementClient) -> None:
    hook = recorded.webhooks.create(
        name="slack-notifications",
        # A public address (loopback and private ones are refused unless allowed); inactive,
        # so nothing is ever sent there.
        url=UNREACHED_URL,
        events=["GPU_OVERHEATING", "ALLOCATION_FAILED", "COST_THRESHOLD_EXCEEDED"],
        secret="webhook_secret_key",
        active=False,
    )
    try:
        assert isinstance(hook, webhooks.Webhook) and hook.webhook_id
        assert hook.events == ["GPU_OVERHEATING", "ALLOCATION_FAILED", "COST_THRESHOLD_EXCEEDED"]
        assert "webhook_secret_key" not in str(hook.to_api())
        assert recorded.webhooks.get(hook.webhook_id).name == "slack-notifications"
        assert hook.webhook_id in {h.webhook_id for h in recorded.webhooks.list()}
        paused = recorded.webhooks.update(
            hook.webhook_id, name="gpu-alerts", events=["GPU_OVERHEATING"]
        )
        assert paused.name == "gpu-alerts" and paused.events == ["GPU_OVERHEATING"]
        assert paused.active is False
        # A paused webhook gets no test delivery (tests/webhooks has an active one's).
        with pytest.raises(InvalidParameterError) as refused:
            recorded.webhooks.test(hook.webhook_id)
        assert "paused" in str(refused.value)
        deliveries = recorded.webhooks.deliveries(hook.webhook_id, limit=10)
        assert deliveries == []
        assert_mirrors([hook, paused, *deliveries])
    finally:
        deleted = recorded.webhooks.delete(hook.webhook_id or "")
    assert deleted.webhook_id == hook.webhook_id


def test_alertmanager_notification_is_received(recorded: GpuManagementClient) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    receipt = recorded.webhooks.receive_alertmanager(
        {
            "version": "4",
            "status": "firing",
            "receiver": "gpu-analytics",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "GpuTemperatureHigh", "node": "gpu-worker-1"},
                    "annotations": {"summary": "sdk test"},
                    "startsAt": now,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090",
                    "fingerprint": "sdk-test-0001",
                }
            ],
        }
    )
    assert isinstance(receipt, webhooks.Receipt) and receipt.received == 1
    assert_mirrors(receipt)


def test_every_webhook_operation_has_an_sdk_call(
    recorded: GpuManagementClient, recorder: Recorder, openapi: dict[str, Any]
) -> None:
    test_webhook_lifecycle_never_returns_the_secret(recorded)
    test_alertmanager_notification_is_received(recorded)
    prefixes = ("/webhooks", "/alerts/alertmanager")
    assert missing_operations(recorder, openapi, prefixes) == set()


def test_webhooks_models_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    assert mirrored_models(webhooks, openapi) == 6
