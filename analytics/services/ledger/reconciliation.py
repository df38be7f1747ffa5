"""Ledger versus kubelet: do pods hold what their allocations reserved, and who holds GPUs
without an allocation?

The kubelet's assignment comes from the exporter's ``gpu_pod_allocation_info`` (namespace,
pod, container, GPU uuid, MIG uuid, resource, sharing); the reservation from the allocation
ledger, the device's GPU uuid and the MIG instance's observed MIG uuid. Pods are matched by
namespace and name. Without Prometheus the answer is partial: the ledger's count, the comparison
null, ``metrics_available`` false with the reason (analytics.services.kernel.partial).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analytics.clock import Clock
from analytics.prom import PromClient
from analytics.prom import queries as q
from analytics.services.kernel.partial import MetricsGate
from analytics.store import allocations as allocation_store
from analytics.store import devices as device_store
from analytics.store import mig as mig_store
from analytics.store.db import Database

MATCHED = "MATCHED"
POD_HOLDS_NO_GPU = "POD_HOLDS_NO_GPU"
HOLDS_OTHER_RESOURCE = "HOLDS_OTHER_RESOURCE"
RESERVED_NOT_OBSERVED = "RESERVED_NOT_OBSERVED"
# The answer's fields that compare with the kubelet's assignments: null in a partial answer.
OBSERVED_FIELDS = (
    "matched_allocations",
    "mismatched_allocations",
    "pods_holding_gpus",
    "unallocated_pod_count",
    "matched",
    "mismatched",
    "unallocated_pods",
)


@dataclass(frozen=True)
class Holding:
    namespace: str
    pod: str
    container: str
    node: str
    gpu_uuid: str
    mig_uuid: str | None
    resource: str
    sharing: str


class ReconciliationService:
    def __init__(
        self, database: Database, clock: Clock, prom: PromClient, gate: MetricsGate | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._prom = prom
        # The metric part of the answer (the app's gate, shared with the other endpoints).
        self._gate = gate or MetricsGate()

    def reconcile(self, namespace: str | None = None) -> dict[str, Any]:
        observed = self._gate.read(
            lambda: self._prom.query(q.pod_allocations(namespace)), "the kubelet's assignments"
        )
        now = self._clock.now()
        with self._db.read() as conn:
            ledger = allocation_store.list_allocations(
                conn, now, active_only=True, filters={"namespace": namespace}
            )
            devices = device_store.list_devices(conn, now)
            instances = mig_store.instances(conn, now)
        if observed.value is None:
            return {
                "checked_at": now,
                "namespace": namespace,
                "active_allocations": len(ledger),
                **dict.fromkeys(OBSERVED_FIELDS),
                **observed.flags(),
            }
        samples = observed.value
        device_uuid = {d.device_id: d.gpu_uuid for d in devices}
        device_by_uuid = {d.gpu_uuid: d.device_id for d in devices if d.gpu_uuid}
        mig_uuid = {i.instance_id: i.mig_uuid for i in instances if i.observed}
        instance_by_uuid = {i.mig_uuid: i.instance_id for i in instances if i.mig_uuid}

        holdings: dict[tuple[str, str], list[Holding]] = {}
        for sample in samples:
            labels = sample.labels
            holding = Holding(
                namespace=labels.get("namespace", ""),
                pod=labels.get("pod", ""),
                container=labels.get("container", ""),
                node=labels.get("node", ""),
                gpu_uuid=labels.get("uuid", ""),
                mig_uuid=labels.get("mig_uuid") or None,
                resource=labels.get("resource", ""),
                sharing=labels.get("sharing", ""),
            )
            holdings.setdefault((holding.namespace, holding.pod), []).append(holding)

        def describe(h: Holding) -> dict[str, Any]:
            return {
                "container": h.container,
                "node_name": h.node,
                "device_id": device_by_uuid.get(h.gpu_uuid),
                "mig_instance_id": instance_by_uuid.get(h.mig_uuid) if h.mig_uuid else None,
                "gpu_uuid": h.gpu_uuid,
                "mig_uuid": h.mig_uuid,
                "resource": h.resource,
                "sharing": h.sharing,
            }

        holders_of: dict[str, list[str]] = {}
        for (ns, pod), held in holdings.items():
            for h in held:
                for key in (h.mig_uuid, h.gpu_uuid if not h.mig_uuid else None):
                    if key:
                        holders_of.setdefault(key, []).append(f"{ns}/{pod}")

        matched: list[str] = []
        mismatched: list[dict[str, Any]] = []
        allocated_pods: set[tuple[str, str]] = set()
        for allocation in ledger:
            pod_key = (allocation.namespace, allocation.pod_name)
            allocated_pods.add(pod_key)
            if allocation.resource_type == "MIG_INSTANCE":
                expected = mig_uuid.get(allocation.resource_id)
            else:
                expected = device_uuid.get(allocation.device_id)
            held = holdings.get(pod_key, [])
            if expected is None:
                state = RESERVED_NOT_OBSERVED
            elif not held:
                state = POD_HOLDS_NO_GPU
            elif any(_holds(h, allocation.resource_type, expected) for h in held):
                matched.append(allocation.allocation_id)
                continue
            else:
                state = HOLDS_OTHER_RESOURCE
            mismatched.append(
                {
                    "allocation_id": allocation.allocation_id,
                    "namespace": allocation.namespace,
                    "pod_name": allocation.pod_name,
                    "resource_type": allocation.resource_type,
                    "allocated_resource": allocation.resource_id,
                    "device_id": allocation.device_id,
                    "expected_uuid": expected,
                    "state": state,
                    "pod_holds": [describe(h) for h in held],
                    "reserved_resource_held_by": sorted(
                        p
                        for p in holders_of.get(expected or "", [])
                        if p != f"{allocation.namespace}/{allocation.pod_name}"
                    ),
                }
            )
        unallocated = [
            {
                "namespace": ns,
                "pod_name": pod,
                "node_name": held[0].node,
                "holdings": [describe(h) for h in held],
            }
            for (ns, pod), held in sorted(holdings.items())
            if (ns, pod) not in allocated_pods
        ]
        return {
            "checked_at": now,
            "namespace": namespace,
            "active_allocations": len(ledger),
            "matched_allocations": len(matched),
            "mismatched_allocations": len(mismatched),
            "pods_holding_gpus": len(holdings),
            "unallocated_pod_count": len(unallocated),
            "matched": matched,
            "mismatched": mismatched,
            "unallocated_pods": unallocated,
            **observed.flags(),
        }


def _holds(holding: Holding, resource_type: str, expected: str) -> bool:
    if resource_type == "MIG_INSTANCE":
        return holding.mig_uuid == expected
    return holding.gpu_uuid == expected and holding.mig_uuid is None
