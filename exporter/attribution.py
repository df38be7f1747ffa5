"""Attribution: which pod holds which GPU or MIG instance, and what each container really uses.

Pure functions from records to records; no I/O. Failures degrade: an id that cannot be resolved
is counted, never raised, so one odd device plugin cannot fail a scrape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from exporter.deviceids import DeviceIdError, DeviceRef, parse_device_id
from exporter.dra import gpu_minor
from exporter.snapshot import (
    DeviceSample,
    MigInstanceSample,
    PodAllocation,
    PodDevice,
    PodInfo,
    PodUsage,
    ProcessSample,
)

# Phases whose pods still hold their devices; the kubelet keeps listing finished pods.
ACTIVE_PHASES = frozenset({"Running", "Pending"})
SHARED_RESOURCE_SUFFIX = ".shared"
EXCLUSIVE = "exclusive"
SHARED = "shared"


@dataclass(frozen=True)
class _DeviceIndex:
    by_uuid: Mapping[str, DeviceSample]
    by_index: Mapping[int, DeviceSample]
    by_minor: Mapping[int, DeviceSample]
    mig_by_uuid: Mapping[str, tuple[DeviceSample, MigInstanceSample]]

    @classmethod
    def build(cls, devices: Sequence[DeviceSample]) -> _DeviceIndex:
        by_uuid: dict[str, DeviceSample] = {}
        by_index: dict[int, DeviceSample] = {}
        by_minor: dict[int, DeviceSample] = {}
        mig_by_uuid: dict[str, tuple[DeviceSample, MigInstanceSample]] = {}
        for device in devices:
            by_uuid[device.identity.uuid.lower()] = device
            by_index[device.identity.index] = device
            if device.identity.minor_number is not None:
                by_minor[device.identity.minor_number] = device
            for mig in device.mig_instances:
                mig_by_uuid[mig.mig_uuid.lower()] = (device, mig)
        return cls(by_uuid, by_index, by_minor, mig_by_uuid)

    def gpu(self, ref: DeviceRef) -> DeviceSample | None:
        if ref.gpu_uuid is not None:
            return self.by_uuid.get(ref.gpu_uuid.lower())
        if ref.index is not None:
            return self.by_index.get(ref.index)
        return None

    def migs(self, ref: DeviceRef) -> list[tuple[DeviceSample, MigInstanceSample]]:
        if ref.mig_uuid is not None:
            found = self.mig_by_uuid.get(ref.mig_uuid.lower())
            return [found] if found is not None else []
        device = self.gpu(ref)
        if device is None:
            return []
        # GKE's nvidia<N>/gi<g> names a whole GPU instance: every compute instance in it.
        return [
            (device, mig)
            for mig in sorted(device.mig_instances, key=lambda m: m.compute_instance_id)
            if mig.gpu_instance_id == ref.gpu_instance_id
            and ref.compute_instance_id in (None, mig.compute_instance_id)
        ]


def resolve_allocations(
    pod_devices: Sequence[PodDevice],
    devices: Sequence[DeviceSample],
    pods: Mapping[tuple[str, str], PodInfo] | None,
) -> tuple[list[PodAllocation], int]:
    """Resolve kubelet device ids against this node's devices.

    ``pods`` maps (namespace, name) to the pod; when given, only Running/Pending pods are kept
    (a pod missing from it is gone). When None (Kubernetes API unavailable) every pod is kept.
    Returns the allocations, sorted and without duplicates, and how many ids of kept pods could
    not be resolved (unknown form, or no such device on this node).

    A device of a DRA claim (``claim_name`` set) is named by UUID when the claim's driver
    published it (:mod:`exporter.dra`), else by the driver's ``gpu-<minor>``, found here by NVML
    minor number. A claim's device held by containers of more than one pod is ``shared``.
    """
    index = _DeviceIndex.build(devices)
    allocations: set[PodAllocation] = set()
    unresolved = 0
    for pod_device in pod_devices:
        if pods is not None:
            info = pods.get((pod_device.namespace, pod_device.pod))
            if info is None or info.phase not in ACTIVE_PHASES:
                continue
        ref = _parse(pod_device, index)
        resolved = _resolve(pod_device, ref, index) if ref is not None else []
        if not resolved:
            unresolved += 1
        allocations.update(resolved)
    return sorted(_share_claimed_devices(allocations), key=_allocation_order), unresolved


def _parse(pod_device: PodDevice, index: _DeviceIndex) -> DeviceRef | None:
    try:
        return parse_device_id(pod_device.device_id)
    except DeviceIdError:
        pass
    if pod_device.claim_name:
        minor = gpu_minor(pod_device.device_id)
        device = index.by_minor.get(minor) if minor is not None else None
        if device is not None:
            return DeviceRef(kind="gpu", gpu_uuid=device.identity.uuid)
    return None


def _share_claimed_devices(allocations: set[PodAllocation]) -> set[PodAllocation]:
    """Mark ``shared`` the DRA devices that containers of several pods hold (a shared claim)."""
    pods_by_device: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for a in allocations:
        if a.claim_name:
            key = (a.gpu_uuid, a.mig_uuid or "")
            pods_by_device.setdefault(key, set()).add((a.namespace, a.pod))
    shared = {key for key, holders in pods_by_device.items() if len(holders) > 1}
    if not shared:
        return allocations
    return {
        replace(a, sharing=SHARED)
        if a.claim_name and (a.gpu_uuid, a.mig_uuid or "") in shared
        else a
        for a in allocations
    }


def _resolve(pod_device: PodDevice, ref: DeviceRef, index: _DeviceIndex) -> list[PodAllocation]:
    shared = ref.replica is not None or pod_device.resource_name.endswith(SHARED_RESOURCE_SUFFIX)
    sharing = SHARED if shared else EXCLUSIVE
    targets: list[tuple[DeviceSample, str | None]]
    if ref.kind == "mig":
        targets = [(device, mig.mig_uuid) for device, mig in index.migs(ref)]
    else:
        device = index.gpu(ref)
        targets = [(device, None)] if device is not None else []
    return [
        PodAllocation(
            namespace=pod_device.namespace,
            pod=pod_device.pod,
            container=pod_device.container,
            resource_name=pod_device.resource_name,
            gpu_index=device.identity.index,
            gpu_uuid=device.identity.uuid,
            mig_uuid=mig_uuid,
            sharing=sharing,
            replica=ref.replica,
            claim_name=pod_device.claim_name,
            claim_namespace=pod_device.claim_namespace,
        )
        for device, mig_uuid in targets
    ]


def _allocation_order(a: PodAllocation) -> tuple[str, str, str, int, str, str, int, str]:
    return (
        a.namespace,
        a.pod,
        a.container,
        a.gpu_index,
        a.mig_uuid or "",
        a.resource_name,
        -1 if a.replica is None else a.replica,
        a.claim_name,
    )


def pod_usage(
    processes: Sequence[ProcessSample],
    pid_to_container: Mapping[int, tuple[str, str]],
    pods_by_uid: Mapping[str, PodInfo],
) -> list[PodUsage]:
    """Per-container GPU memory and SM utilisation, summed over the container's processes.

    ``pid_to_container`` maps a host pid to (pod uid, container id) as
    :func:`exporter.procfs.container_of_pid` reads it. Processes outside known pods are left
    out. A container id the pod does not list (it restarted since the pod was read) is
    reported with an empty container name rather than dropped. Utilisation is None when no
    process of the group reported it, and capped at 1 (samples of overlapping periods).
    """
    memory: dict[tuple[str, str, str, str, str], int] = {}
    utilization: dict[tuple[str, str, str, str, str], float] = {}
    for process in processes:
        owner = pid_to_container.get(process.pid)
        if owner is None:
            continue
        pod_uid, container_id = owner
        info = pods_by_uid.get(pod_uid)
        if info is None:
            continue
        container = _container_name(info, container_id)
        key = (info.namespace, info.name, container, process.gpu_uuid, process.mig_uuid or "")
        memory[key] = memory.get(key, 0) + (process.used_memory_bytes or 0)
        if process.sm_utilization_ratio is not None:
            utilization[key] = utilization.get(key, 0.0) + process.sm_utilization_ratio
    usage: list[PodUsage] = []
    for key, used in sorted(memory.items()):
        namespace, pod, container, gpu_uuid, mig_uuid = key
        ratio = utilization.get(key)
        usage.append(
            PodUsage(
                namespace=namespace,
                pod=pod,
                container=container,
                gpu_uuid=gpu_uuid,
                mig_uuid=mig_uuid or None,
                used_memory_bytes=used,
                sm_utilization_ratio=None if ratio is None else min(1.0, ratio),
            )
        )
    return usage


def index_pods_by_name(pods: Sequence[PodInfo]) -> dict[tuple[str, str], PodInfo]:
    """The ``pods`` argument of :func:`resolve_allocations`: (namespace, name) -> pod."""
    return {(pod.namespace, pod.name): pod for pod in pods}


def index_pods_by_uid(pods: Sequence[PodInfo]) -> dict[str, PodInfo]:
    """The ``pods_by_uid`` argument of :func:`pod_usage`."""
    return {pod.uid: pod for pod in pods}


def _container_name(info: PodInfo, container_id: str) -> str:
    for name, known_id in info.container_ids.items():
        if known_id == container_id:
            return name
    return ""
