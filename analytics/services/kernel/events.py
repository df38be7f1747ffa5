"""The events the service records, and what records them, as the areas see it.

The recorder itself (the outbox: an event row and one delivery per subscribed webhook, in the
caller's transaction) is analytics.services.events.recorder; the ledger, inventory and cost areas
record through the :class:`EventSink` they are given. docs/webhooks.md lists every type with its
``data`` fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class EventType(StrEnum):
    """Every event a webhook can subscribe to."""

    GPU_OVERHEATING = "GPU_OVERHEATING"
    GPU_XID_ERROR = "GPU_XID_ERROR"
    GPU_LOST = "GPU_LOST"
    GPU_ECC_ERROR = "GPU_ECC_ERROR"
    GPU_THROTTLED = "GPU_THROTTLED"
    GPU_INTERCONNECT_ERROR = "GPU_INTERCONNECT_ERROR"
    EXPORTER_DOWN = "EXPORTER_DOWN"
    MIG_LAYOUT_DRIFT = "MIG_LAYOUT_DRIFT"
    ALLOCATION_FAILED = "ALLOCATION_FAILED"
    ALLOCATION_EXPIRING = "ALLOCATION_EXPIRING"
    ALLOCATION_EXPIRED = "ALLOCATION_EXPIRED"
    COST_THRESHOLD_EXCEEDED = "COST_THRESHOLD_EXCEEDED"
    MIG_LAYOUT_APPLIED = "MIG_LAYOUT_APPLIED"
    WEBHOOK_TEST = "WEBHOOK_TEST"


# What each type means and where it comes from (also the OpenAPI description of the enum).
EVENT_CATALOGUE: Mapping[EventType, str] = {
    EventType.GPU_OVERHEATING: "Alert GpuOverheating: a GPU above its model's threshold.",
    EventType.GPU_XID_ERROR: "Alerts GpuXidCritical, GpuXidWarning: the driver reported an XID.",
    EventType.GPU_LOST: "Alerts GpuDown, GpuMissing: a GPU stopped answering or vanished.",
    EventType.GPU_ECC_ERROR: (
        "Alerts GpuEccUncorrectable, GpuEccUncorrectableNew, GpuRowRemapPending, "
        "GpuRowRemapFailure: uncorrectable memory errors."
    ),
    EventType.GPU_THROTTLED: (
        "Alerts GpuThermalSlowdown, GpuPowerBrake: the driver holds the clocks down."
    ),
    EventType.GPU_INTERCONNECT_ERROR: (
        "Alerts GpuPcieReplayErrors, GpuNvlinkErrors, GpuNvlinkRecoveryErrors, "
        "GpuFabricNotReady: a GPU's PCIe link, NVLinks or NVSwitch fabric is failing."
    ),
    EventType.EXPORTER_DOWN: (
        "Alerts GpuExporterDown, GpuExporterAbsent, GpuExporterStale: GPU monitoring is blind."
    ),
    EventType.MIG_LAYOUT_DRIFT: "Alert GpuMigLayoutDrift: observed MIG layout != desired.",
    EventType.ALLOCATION_FAILED: "An allocation request could not be met (POST /gpu/allocations).",
    EventType.ALLOCATION_EXPIRING: (
        "An allocation's planned release falls within the notice window (also alert "
        "GpuAllocationExpiring; one event either way)."
    ),
    EventType.ALLOCATION_EXPIRED: "An allocation passed its planned release and was ended.",
    EventType.COST_THRESHOLD_EXCEEDED: "A budget's threshold was crossed (the budget service).",
    EventType.MIG_LAYOUT_APPLIED: (
        "A MIG layout was created or removed through the API (the desired layout and its "
        "nvidia.com/mig.config changed)."
    ),
    EventType.WEBHOOK_TEST: (
        "Sent by POST /webhooks/{webhookId}/test to that webhook alone, whatever it "
        "subscribes to: checks the URL, the signature and the receiver end to end."
    ),
}

EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)


def expiring_dedup_key(allocation_id: str) -> str:
    """One ALLOCATION_EXPIRING per allocation, whether the sweep or the alert announced it."""
    return f"ALLOCATION_EXPIRING:{allocation_id}"


class EventSink(Protocol):
    """Records events (analytics.services.events.recorder.EventRecorder)."""

    def record(
        self, event_type: str, data: dict[str, object], *, dedup_key: str | None = None
    ) -> None: ...

    def record_once(
        self, event_type: str, data: Mapping[str, object], *, dedup_key: str | None = None
    ) -> bool: ...

    def record_in(
        self,
        conn: Any,
        event_type: str,
        data: Mapping[str, object],
        *,
        dedup_key: str | None = None,
        occurred_at: datetime | None = None,
        targets: Sequence[str] | None = None,
    ) -> str | None: ...
