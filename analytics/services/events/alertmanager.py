"""Alertmanager's webhook notifications turned into events (the receiver's use case).

Each alert of a notification (payload version 4) whose ``alertname`` is one of ours
(alerts/gpu-alerts.yml) becomes one event of the mapped type, with the seed's ``data`` fields
(``deviceId`` as ``{node}-GPU-{index:02d}``, ``severity`` upper-cased, for overheating the
``temperature`` read from Prometheus on receipt and the model's ``threshold``). Alertmanager
repeats a notification on every group interval; the dedup key (fingerprint, startsAt, status)
records each alert once when it fires and once when it resolves. A resolved alert is recorded as
an event of the same type with ``status: RESOLVED`` and ``endsAt``, so subscribers learn that
the problem cleared. Alerts without a mapping (GpuAllocatedIdle, GpuAllocatedSmIdle, GpuExporterSlow,
GpuBudgetExceeded, which the budget service reports itself) are counted and ignored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics.errors import AnalyticsError
from analytics.prom import PromClient
from analytics.prom.promql import quote
from analytics.services.events.recorder import EventRecorder
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.events import EventType, expiring_dedup_key
from analytics.services.kernel.ids import device_id_for

log = logging.getLogger(__name__)

# alertname -> (event type, ECC/throttle "kind" where one type covers several alerts)
ALERT_EVENTS: Mapping[str, tuple[EventType, str | None]] = {
    "GpuOverheating": (EventType.GPU_OVERHEATING, None),
    "GpuThermalSlowdown": (EventType.GPU_THROTTLED, "THERMAL_SLOWDOWN"),
    "GpuPowerBrake": (EventType.GPU_THROTTLED, "POWER_BRAKE"),
    "GpuXidCritical": (EventType.GPU_XID_ERROR, "CRITICAL"),
    "GpuXidWarning": (EventType.GPU_XID_ERROR, "WARNING"),
    "GpuEccUncorrectable": (EventType.GPU_ECC_ERROR, "UNCORRECTABLE_LIFETIME"),
    "GpuEccUncorrectableNew": (EventType.GPU_ECC_ERROR, "UNCORRECTABLE_NEW"),
    "GpuRowRemapPending": (EventType.GPU_ECC_ERROR, "ROW_REMAP_PENDING"),
    "GpuRowRemapFailure": (EventType.GPU_ECC_ERROR, "ROW_REMAP_FAILURE"),
    "GpuPcieReplayErrors": (EventType.GPU_INTERCONNECT_ERROR, "PCIE_REPLAY"),
    "GpuNvlinkErrors": (EventType.GPU_INTERCONNECT_ERROR, "NVLINK_ERRORS"),
    "GpuNvlinkRecoveryErrors": (EventType.GPU_INTERCONNECT_ERROR, "NVLINK_RECOVERY"),
    "GpuFabricNotReady": (EventType.GPU_INTERCONNECT_ERROR, "FABRIC_NOT_READY"),
    "GpuDown": (EventType.GPU_LOST, "DOWN"),
    "GpuMissing": (EventType.GPU_LOST, "MISSING"),
    "GpuExporterDown": (EventType.EXPORTER_DOWN, "DOWN"),
    "GpuExporterAbsent": (EventType.EXPORTER_DOWN, "ABSENT"),
    "GpuExporterStale": (EventType.EXPORTER_DOWN, "STALE"),
    "GpuMigLayoutDrift": (EventType.MIG_LAYOUT_DRIFT, None),
    "GpuAllocationExpiring": (EventType.ALLOCATION_EXPIRING, None),
}

# Alerts of alerts/gpu-alerts.yml that become no event, each deliberately (a test holds every
# alert of the file to one of the two): idle allocations are findings, not incidents; a slow
# exporter still reports; the budget service records COST_THRESHOLD_EXCEEDED itself.
UNMAPPED_ALERTS = frozenset(
    {"GpuAllocatedIdle", "GpuAllocatedSmIdle", "GpuExporterSlow", "GpuBudgetExceeded"}
)

_UUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass
class ReceiptSummary:
    received: int = 0
    recorded: int = 0
    repeated: int = 0
    ignored: list[str] = field(default_factory=list)


class AlertReceiver:
    def __init__(
        self,
        events: EventRecorder,
        catalogue: Catalogue,
        prom: PromClient,
    ) -> None:
        self._events = events
        self._catalogue = catalogue
        self._prom = prom

    def receive(self, notification: Mapping[str, Any]) -> ReceiptSummary:
        """Record the notification's alerts; ``notification`` is the validated payload."""
        summary = ReceiptSummary()
        for alert in notification["alerts"]:
            summary.received += 1
            name = alert["labels"].get("alertname", "")
            mapped = ALERT_EVENTS.get(name)
            if mapped is None:
                summary.ignored.append(name)
                continue
            event_type, kind = mapped
            status = "RESOLVED" if alert["status"] == "resolved" else "FIRING"
            allocation_id = alert["labels"].get("allocation_id")
            if event_type is EventType.ALLOCATION_EXPIRING and allocation_id:
                if status == "RESOLVED":  # the allocation ended: ALLOCATION_EXPIRED says so
                    summary.repeated += 1
                    continue
                key = expiring_dedup_key(allocation_id)
            else:
                starts = alert["starts_at"].isoformat()
                key = f"alert:{alert['fingerprint']}:{starts}:{status}"[:255]
            if self._events.seen(key):  # skip the Prometheus read for a repeat
                summary.repeated += 1
                continue
            data = self._data(alert, event_type, kind, notification)
            if self._events.record_once(event_type.value, data, dedup_key=key):
                summary.recorded += 1
            else:
                summary.repeated += 1
        return summary

    # -- data -----------------------------------------------------------------------------------

    def _data(
        self,
        alert: Mapping[str, Any],
        event_type: EventType,
        kind: str | None,
        notification: Mapping[str, Any],
    ) -> dict[str, object]:
        labels: Mapping[str, str] = alert["labels"]
        annotations: Mapping[str, str] = alert["annotations"]
        data: dict[str, object] = {}
        node = labels.get("node")
        gpu = labels.get("gpu")
        if labels.get("device_id"):
            data["deviceId"] = labels["device_id"]
        elif node and gpu is not None and gpu.isdigit():
            data["deviceId"] = device_id_for(node, int(gpu))
        if node:
            data["nodeName"] = node
        if gpu is not None and gpu.isdigit():
            data["gpuIndex"] = int(gpu)
        if labels.get("uuid"):
            data["uuid"] = labels["uuid"]
        if labels.get("model_id"):
            data["modelId"] = labels["model_id"]
        if event_type is EventType.GPU_OVERHEATING:
            data["temperature"] = self._temperature(labels.get("uuid"))
            data["threshold"] = self._threshold(labels.get("model_id"))
        if event_type is EventType.GPU_XID_ERROR and labels.get("xid", "").isdigit():
            data["xid"] = int(labels["xid"])
        if event_type is EventType.GPU_THROTTLED and labels.get("reason"):
            data["reason"] = labels["reason"]
        if event_type is EventType.GPU_INTERCONNECT_ERROR and labels.get("error"):
            data["error"] = labels["error"]  # GpuNvlinkErrors: crc_flit, crc_data or replay
        if event_type is EventType.EXPORTER_DOWN:
            for label, key in (("instance", "instance"), ("stage", "stage"), ("job", "job")):
                if labels.get(label):
                    data[key] = labels[label]
        if event_type is EventType.ALLOCATION_EXPIRING:
            for label, key in (
                ("allocation_id", "allocationId"),
                ("namespace", "namespace"),
                ("pod", "podName"),
            ):
                if labels.get(label):
                    data[key] = labels[label]
        if kind is not None:
            data["kind"] = kind
        resolved = alert["status"] == "resolved"
        data["severity"] = labels.get("severity", "warning").upper()
        data["status"] = "RESOLVED" if resolved else "FIRING"
        data["alertName"] = labels.get("alertname")
        data["summary"] = annotations.get("summary")
        data["description"] = annotations.get("description")
        data["runbookUrl"] = annotations.get("runbook_url")
        data["startsAt"] = alert["starts_at"]
        data["endsAt"] = alert["ends_at"] if resolved else None
        data["fingerprint"] = alert["fingerprint"]
        data["source"] = notification.get("externalURL") or None
        return data

    def _temperature(self, uuid: str | None) -> float | None:
        """The GPU's temperature now (°C), or None when Prometheus cannot say."""
        if not uuid or not _UUID.match(uuid):
            return None
        try:
            samples = self._prom.query(f"max(gpu_temperature_celsius{{uuid={quote(uuid)}}})")
        except AnalyticsError as exc:
            log.warning("temperature of %s unknown: %s", uuid, exc.message)
            return None
        return round(samples[0].value, 1) if samples else None

    def _threshold(self, model_id: str | None) -> float | None:
        model = self._catalogue.find(model_id) if model_id else None
        return model.overheat_threshold_c if model is not None else None
