"""A simulated fleet and its nodes: NVML, kubelet pod-resources, the Kubernetes pod list, /proc.

Each :class:`SimulatedNode` serves one node's view in every protocol the exporter reads, all
derived from the same fleet description and clock, so they agree with one another. Pods are
those present at the clock's now (:meth:`simulator.fleet.NodeSpec.pods_at`): a scheduled pod is
listed, holds devices and runs processes only inside its windows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.podresources import api_pb2
from gpucatalog.mig import mig_profiles, total_slices
from gpucatalog.placement import validate_layout
from simulator.clock import Clock
from simulator.fleet import (
    GIB,
    ContainerSpec,
    DeviceIdForm,
    DeviceRef,
    FleetSpec,
    GpuSpec,
    MigInstanceSpec,
    NodeSpec,
    PodSpec,
    SimulatorError,
    gpu_instance_id,
    load_fleet,
    stable_hash,
    stable_uuid,
)
from simulator.nvml import FakeNvml
from simulator.state import GpuValues, NodeState, XidOccurrence

GPU_RESOURCE = "nvidia.com/gpu"
SHARED_GPU_RESOURCE = "nvidia.com/gpu.shared"
DRA_DRIVER = "gpu.nvidia.com"  # NVIDIA's DRA driver (k8s-dra-driver-gpu)
DRA_POD_CLAIM = "gpus"  # the pod's name for its claim (spec.resourceClaims[].name)


def device_id(gpu: GpuSpec, ref: DeviceRef, form: DeviceIdForm) -> str:
    """The id the kubelet reports for ``ref`` when the device plugin uses ``form``.

    The ``index`` form names whole GPUs (``3``) and replicas (``3::1``) by index; MIG devices
    keep their ``MIG-<uuid>`` there, as index-strategy plugins have no MIG index form the
    exporter could resolve.
    """
    if ref.mig_slot is not None:
        instance = gpu.mig_instances[ref.mig_slot]
        if form == "legacy-mig":
            return f"MIG-{gpu.uuid}/{instance.gpu_instance_id}/{instance.compute_instance_id}"
        if form == "gke":
            return f"nvidia{gpu.index}/gi{instance.gpu_instance_id}"
        return instance.uuid
    if ref.replica is not None:
        if form == "gke":
            return f"nvidia{gpu.index}/vgpu{ref.replica}"
        if form == "index":
            return f"{gpu.index}::{ref.replica}"
        return f"{gpu.uuid}::{ref.replica}"
    if form == "gke":
        return f"nvidia{gpu.index}"
    if form == "index":
        return str(gpu.index)
    return gpu.uuid


def resource_name(gpu: GpuSpec, ref: DeviceRef, shared_resource: bool) -> str:
    """The extended resource a device is allocated under (device plugin, mixed strategy)."""
    if ref.mig_slot is not None:
        return gpu.mig_instances[ref.mig_slot].profile.resource_name
    if ref.replica is not None and shared_resource:
        return SHARED_GPU_RESOURCE
    return GPU_RESOURCE


def dra_device_name(gpu: GpuSpec, ref: DeviceRef) -> str:
    """The name NVIDIA's DRA driver gives ``ref`` in its ResourceSlice: ``gpu-<minor>``, or
    ``gpu-<minor>-mig-<GI profile id>-<placement start>-<placement size>``."""
    if ref.mig_slot is not None:
        instance = gpu.mig_instances[ref.mig_slot]
        profile = instance.profile
        return (
            f"gpu-{gpu.minor_number}-mig-{profile.nvml_profile_id}-"
            f"{instance.start_slice}-{profile.memory_slices}"
        )
    return f"gpu-{gpu.minor_number}"


def advertised_devices(node: NodeSpec) -> list[tuple[str, GpuSpec, DeviceRef]]:
    """(resource name, GPU, device) for every device the device plugin advertises on ``node``:
    MIG instances of MIG GPUs, the replicas of time-sliced ones, other GPUs whole."""
    shared = {
        ref.gpu_index
        for pod in node.pods
        if pod.shared_resource
        for container in pod.containers
        for ref in container.devices
        if ref.replica is not None
    }
    found: list[tuple[str, GpuSpec, DeviceRef]] = []
    for gpu in node.gpus:
        refs: list[DeviceRef]
        if gpu.mig_enabled:
            refs = [DeviceRef(gpu.index, mig_slot=i.slot) for i in gpu.mig_instances]
        elif gpu.time_slicing_replicas:
            refs = [DeviceRef(gpu.index, replica=r) for r in range(gpu.time_slicing_replicas)]
        else:
            refs = [DeviceRef(gpu.index)]
        found.extend((resource_name(gpu, ref, gpu.index in shared), gpu, ref) for ref in refs)
    return found


def container_device_counts(
    node: NodeSpec, pod: PodSpec, container: ContainerSpec
) -> dict[str, int]:
    """Extended resources the container requests: {resource name: count}. None for a pod with
    a DRA claim: its devices come from the claim, not from extended resources."""
    counts: dict[str, int] = {}
    if pod.dra_claim is not None:
        return counts
    for ref in container.devices:
        name = resource_name(node.gpus[ref.gpu_index], ref, pod.shared_resource)
        counts[name] = counts.get(name, 0) + 1
    return counts


def cpu_quantity(cores: float) -> str:
    """A Kubernetes CPU quantity: ``4`` or ``250m``."""
    millis = round(cores * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_quantity(size_bytes: int) -> str:
    """A Kubernetes memory quantity: ``16Gi``, ``256Mi`` or plain bytes."""
    for unit, size in (("Gi", GIB), ("Mi", 1024**2), ("Ki", 1024)):
        if size_bytes % size == 0:
            return f"{size_bytes // size}{unit}"
    return str(size_bytes)


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SimulatedProcess:
    """A GPU process of a running container, as ``/proc`` and NVML show it."""

    pid: int
    namespace: str
    pod: str
    pod_uid: str
    container: str
    container_id: str  # 64 hex digits

    @property
    def cgroup_line(self) -> str:
        uid = self.pod_uid.replace("-", "_")
        return (
            "0::/kubepods.slice/kubepods-burstable.slice/"
            f"kubepods-burstable-pod{uid}.slice/cri-containerd-{self.container_id}.scope\n"
        )


class MigApplyError(SimulatorError):
    """A MIG layout the simulated GPU refuses, as ``nvidia-mig-parted apply`` would."""


class SimulatedNode:
    """One node of the fleet. Every answer is computed from the spec and the clock."""

    def __init__(self, fleet: FleetSpec, spec: NodeSpec, clock: Clock) -> None:
        self.fleet = fleet
        self.spec = spec
        self.clock = clock
        self.state = NodeState(fleet.seed, fleet.epoch_seconds, spec)
        self.nvml = FakeNvml(self.state, clock)
        self._mig_generation = 0
        self._mig_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    # -- MIG reconfiguration (the simulated mig-manager's) ------------------------------------

    def apply_mig_layouts(self, layouts: dict[int, list[str] | None]) -> list[int]:
        """Repartition GPUs as ``nvidia-mig-parted apply`` does: ``{index: profiles}`` (MIG on
        with those instances) or ``{index: None}`` (MIG off). A GPU already in that state is
        left alone (its instances keep their uuids); any other must be MIG-capable and have no
        process of a present pod on it, else MigApplyError and nothing changes. New instances
        get new uuids. Returns the indexes changed. NVML answers from the new layout at once
        (the exporter sees it at its next MIG re-enumeration); the kubelet's device list and
        the fleet's pods are not changed (a repartitioned GPU has no pod)."""
        with self._mig_lock:
            gpus = list(self.spec.gpus)
            changed: list[int] = []
            busy = {c.gpu.index for c in self.state.contexts if _in_use(c, self.clock.now())}
            for index, profiles in sorted(layouts.items()):
                if not 0 <= index < len(gpus):
                    raise MigApplyError(f"{self.name} has no GPU {index}")
                gpu = gpus[index]
                if _same_layout(gpu, profiles):
                    continue
                if not mig_profiles(gpu.model.model_id):
                    raise MigApplyError(f"GPU {index} ({gpu.model.model_id}) does not support MIG")
                if index in busy:
                    raise MigApplyError(f"GPU {index} is in use by a process; not repartitioned")
                self._mig_generation += 1
                gpus[index] = self._repartitioned(gpu, profiles)
                changed.append(index)
            if not changed:
                return []
            self.spec = dataclasses.replace(self.spec, gpus=tuple(gpus))
            self.state = NodeState(self.fleet.seed, self.fleet.epoch_seconds, self.spec)
            self.nvml.reload(self.state)
            return changed

    def _repartitioned(self, gpu: GpuSpec, profiles: list[str] | None) -> GpuSpec:
        if profiles is None:
            return dataclasses.replace(gpu, mig_enabled=False, mig_instances=())
        placements = validate_layout(gpu.model.model_id, profiles, allow_empty=True)
        by_name = {p.name: p for p in mig_profiles(gpu.model.model_id)}
        _, memory_slices = total_slices(gpu.model.model_id)
        instances = tuple(
            MigInstanceSpec(
                slot=slot,
                profile=by_name[placement.profile],
                start_slice=placement.start,
                gpu_instance_id=gpu_instance_id(
                    placement.start, placement.memory_slices, memory_slices
                ),
                compute_instance_id=0,
                uuid="MIG-"
                + stable_uuid(
                    self.fleet.seed, self.name, gpu.index, slot, "mig", self._mig_generation
                ),
            )
            for slot, placement in enumerate(placements)
        )
        return dataclasses.replace(gpu, mig_enabled=True, mig_instances=instances)

    # -- values for the history writer and tests ----------------------------------------------

    def gpu_values(self, index: int, t: float | None = None) -> GpuValues:
        """Everything NVML reports for GPU ``index`` at ``t`` (default: the clock's now)."""
        return self.state.gpu_values(index, self.clock.now() if t is None else t)

    def is_lost(self, index: int, t: float | None = None) -> bool:
        return self.state.is_lost(index, self.clock.now() if t is None else t)

    def xid_occurrences(self, index: int, start: float, end: float) -> list[XidOccurrence]:
        """XIDs GPU ``index`` raises with ``start <= t < end``, in time order."""
        return self.state.xid_occurrences(index, start, end)

    def processes(self, t: float | None = None) -> tuple[SimulatedProcess, ...]:
        """The GPU processes of the pods present at ``t`` (default: the clock's now)."""
        return tuple(self._processes(self.clock.now() if t is None else t))

    def _processes(self, t: float) -> Iterator[SimulatedProcess]:
        for pod in self.spec.pods_at(t):
            if not pod.running:
                continue
            for container in pod.containers:
                if container.pid is not None:
                    yield SimulatedProcess(
                        container.pid,
                        pod.namespace,
                        pod.name,
                        pod.uid,
                        container.name,
                        container.container_id,
                    )

    # -- kubelet pod-resources -----------------------------------------------------------------

    def pod_resources_response(self) -> Any:
        """``v1.ListPodResourcesResponse`` of the pods present now; finished pods are listed
        too, as kubelets do."""
        return api_pb2.ListPodResourcesResponse(
            pod_resources=[
                api_pb2.PodResources(
                    name=pod.name,
                    namespace=pod.namespace,
                    containers=[
                        api_pb2.ContainerResources(
                            name=container.name,
                            devices=[]
                            if pod.dra_claim
                            else self._container_devices(pod, container),
                            dynamic_resources=self._dynamic_resources(pod, container),
                        )
                        for container in pod.containers
                    ],
                )
                for pod in self.spec.pods_at(self.clock.now())
            ]
        )

    def _container_devices(self, pod: PodSpec, container: ContainerSpec) -> list[Any]:
        grouped: dict[str, tuple[list[str], set[int]]] = {}
        for ref in container.devices:
            gpu = self.spec.gpus[ref.gpu_index]
            ids, numa = grouped.setdefault(
                resource_name(gpu, ref, pod.shared_resource), ([], set())
            )
            ids.append(device_id(gpu, ref, pod.device_id_form))
            numa.add(gpu.numa_node)
        return [
            api_pb2.ContainerDevices(
                resource_name=name,
                device_ids=ids,
                topology=api_pb2.TopologyInfo(nodes=[api_pb2.NUMANode(ID=n) for n in sorted(numa)]),
            )
            for name, (ids, numa) in grouped.items()
        ]

    def _dynamic_resources(self, pod: PodSpec, container: ContainerSpec) -> list[Any]:
        """The container's DRA claim as a 1.31+ kubelet reports it (driver, pool, device, CDI)."""
        if pod.dra_claim is None or not container.devices:
            return []
        names = [dra_device_name(self.spec.gpus[r.gpu_index], r) for r in container.devices]
        return [
            api_pb2.DynamicResource(
                claim_name=pod.dra_claim,
                claim_namespace=pod.namespace,
                claim_resources=[
                    api_pb2.ClaimResource(
                        cdi_devices=[api_pb2.CDIDevice(name=f"k8s.{DRA_DRIVER}/device={name}")],
                        driver_name=DRA_DRIVER,
                        pool_name=self.spec.name,
                        device_name=name,
                    )
                    for name in names
                ],
            )
        ]

    def resource_slice_list(self) -> dict[str, Any]:
        """The ``resource.k8s.io/v1`` ResourceSliceList NVIDIA's DRA driver publishes for this
        node (one slice, pool = node name): MIG devices of MIG GPUs, other GPUs whole, with the
        ``type``, ``uuid`` (and ``parentUUID``, ``profile``) attributes. Empty on a node where
        no pod uses a claim (the driver is not deployed there)."""
        if not any(pod.dra_claim for pod in self.spec.pods):
            return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSliceList", "items": []}
        devices: list[dict[str, Any]] = []
        for gpu in self.spec.gpus:
            if gpu.mig_enabled:
                for instance in gpu.mig_instances:
                    ref = DeviceRef(gpu.index, mig_slot=instance.slot)
                    attributes = {
                        "type": {"string": "mig"},
                        "uuid": {"string": instance.uuid},
                        "parentUUID": {"string": gpu.uuid},
                        "profile": {"string": instance.profile.name},
                    }
                    devices.append({"name": dra_device_name(gpu, ref), "attributes": attributes})
            else:
                attributes = {
                    "type": {"string": "gpu"},
                    "uuid": {"string": gpu.uuid},
                    "productName": {"string": gpu.product_name},
                }
                name = dra_device_name(gpu, DeviceRef(gpu.index))
                devices.append({"name": name, "attributes": attributes})
        name = f"{self.spec.name}-{DRA_DRIVER}"
        return {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSliceList",
            "items": [
                {
                    "apiVersion": "resource.k8s.io/v1",
                    "kind": "ResourceSlice",
                    "metadata": {"name": name},
                    "spec": {
                        "driver": DRA_DRIVER,
                        "nodeName": self.spec.name,
                        "pool": {
                            "name": self.spec.name,
                            "generation": 1,
                            "resourceSliceCount": 1,
                        },
                        "devices": devices,
                    },
                }
            ],
        }

    def allocatable_resources_response(self) -> Any:
        """``v1.AllocatableResourcesResponse``: every device the plugin advertises (uuid form)."""
        grouped: dict[tuple[str, int], list[str]] = {}
        for name, gpu, ref in advertised_devices(self.spec):
            grouped.setdefault((name, gpu.numa_node), []).append(device_id(gpu, ref, "uuid"))
        return api_pb2.AllocatableResourcesResponse(
            devices=[
                api_pb2.ContainerDevices(
                    resource_name=name,
                    device_ids=ids,
                    topology=api_pb2.TopologyInfo(nodes=[api_pb2.NUMANode(ID=numa)]),
                )
                for (name, numa), ids in grouped.items()
            ],
            cpu_ids=list(range(self.spec.cpu_cores)),
            memory=[
                api_pb2.ContainerMemory(memory_type="memory", size=int(self.spec.memory_gib * GIB))
            ],
        )

    # -- Kubernetes API ------------------------------------------------------------------------

    def pod_list(self) -> dict[str, Any]:
        """A Kubernetes ``v1`` ``PodList`` of this node's pods present now, as the API server
        returns it."""
        version = 100000 + stable_hash(self.fleet.seed, self.spec.name, "rv") % 900000
        pods = self.spec.pods_at(self.clock.now())
        return {
            "apiVersion": "v1",
            "kind": "PodList",
            "metadata": {"resourceVersion": str(version)},
            "items": [self._pod_object(pod, version - i) for i, pod in enumerate(pods)],
        }

    def _pod_object(self, pod: PodSpec, version: int) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": pod.name,
            "namespace": pod.namespace,
            "uid": pod.uid,
            "resourceVersion": str(version),
            "creationTimestamp": _iso(pod.created_time),
            "labels": dict(pod.labels),
        }
        if pod.owner is not None:
            metadata["ownerReferences"] = [
                {
                    "apiVersion": "batch/v1" if pod.owner.kind == "Job" else "apps/v1",
                    "kind": pod.owner.kind,
                    "name": pod.owner.name,
                    "uid": pod.owner.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        finished = pod.phase in ("Succeeded", "Failed")
        status: dict[str, Any] = {
            "phase": pod.phase,
            "hostIP": self.spec.host_ip,
            "startTime": _iso(pod.start_time),
            "qosClass": "Burstable",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if pod.running else "False",
                    "lastTransitionTime": _iso(pod.start_time + 30),
                }
            ],
            "containerStatuses": [self._container_status(pod, c) for c in pod.containers],
        }
        if pod.pod_ip is not None:
            status["podIP"] = pod.pod_ip
            status["podIPs"] = [{"ip": pod.pod_ip}]
        job = pod.owner is not None and pod.owner.kind == "Job"
        return {
            "metadata": metadata,
            "spec": {
                "nodeName": self.spec.name,
                "restartPolicy": "Never" if job or finished else "Always",
                "schedulerName": "default-scheduler",
                "containers": [self._container(pod, c) for c in pod.containers],
                **(
                    {
                        "resourceClaims": [
                            {"name": DRA_POD_CLAIM, "resourceClaimName": pod.dra_claim}
                        ]
                    }
                    if pod.dra_claim is not None
                    else {}
                ),
            },
            "status": status,
        }

    def _container(self, pod: PodSpec, container: ContainerSpec) -> dict[str, Any]:
        counts = container_device_counts(self.spec, pod, container)
        gpus = {name: str(n) for name, n in sorted(counts.items())}
        requests = {
            "cpu": cpu_quantity(container.cpu_request_cores),
            "memory": memory_quantity(container.memory_request_bytes),
        }
        limits: dict[str, str] = {}
        if container.cpu_limit_cores is not None:
            limits["cpu"] = cpu_quantity(container.cpu_limit_cores)
        if container.memory_limit_bytes is not None:
            limits["memory"] = memory_quantity(container.memory_limit_bytes)
        resources: dict[str, Any] = {"requests": {**requests, **gpus}}
        if gpus or limits:
            # Extended resources: limits equal requests.
            resources["limits"] = {**limits, **gpus}
        if pod.dra_claim is not None and container.devices:
            resources["claims"] = [{"name": DRA_POD_CLAIM}]
        body: dict[str, Any] = {
            "name": container.name,
            "image": container.image,
            "resources": resources,
        }
        if container.command:
            body["command"] = list(container.command)
        if container.args:
            body["args"] = list(container.args)
        return body

    def _container_status(self, pod: PodSpec, container: ContainerSpec) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": container.name,
            "image": container.image,
            "ready": pod.running,
            "restartCount": 0,
            "started": pod.running,
        }
        started = _iso(pod.start_time + 10)
        if pod.phase == "Pending":
            status["state"] = {"waiting": {"reason": "ContainerCreating"}}
            return status
        status["containerID"] = f"containerd://{container.container_id}"
        if pod.running:
            status["state"] = {"running": {"startedAt": started}}
        else:
            failed = pod.phase == "Failed"
            status["state"] = {
                "terminated": {
                    "exitCode": 1 if failed else 0,
                    "reason": "Error" if failed else "Completed",
                    "startedAt": started,
                    "finishedAt": _iso(pod.start_time + 1800),
                    "containerID": f"containerd://{container.container_id}",
                }
            }
        return status

    # -- /proc ---------------------------------------------------------------------------------

    def write_proc(self, root: Path, t: float | None = None) -> None:
        """Write ``<root>/<pid>/cgroup`` (cgroup v2, systemd driver) for every GPU process of
        the pods present at ``t`` (default: now), and remove those of scheduled pods that are
        not (the process has exited). Call again at each presence change
        (:func:`keep_proc_current` does, live)."""
        root = Path(root)
        when = self.clock.now() if t is None else t
        present = self._processes(when)
        written: set[int] = set()
        for process in present:
            directory = root / str(process.pid)
            directory.mkdir(parents=True, exist_ok=True)
            cgroup = directory / "cgroup"
            if not cgroup.exists() or cgroup.read_text(encoding="utf-8") != process.cgroup_line:
                # Written aside and renamed: a reader never sees a half-written file.
                part = directory / "cgroup.part"
                part.write_text(process.cgroup_line, encoding="utf-8")
                part.replace(cgroup)
            written.add(process.pid)
        for pod in self.spec.pods:
            if pod.schedule is None:
                continue
            for container in pod.containers:
                if container.pid is not None and container.pid not in written:
                    shutil.rmtree(root / str(container.pid), ignore_errors=True)


def _same_layout(gpu: GpuSpec, profiles: list[str] | None) -> bool:
    if profiles is None:
        return not gpu.mig_enabled
    current = sorted(i.profile.name for i in gpu.mig_instances)
    return gpu.mig_enabled and current == sorted(profiles)


def _in_use(context: Any, t: float) -> bool:
    return any(c.present_at(t) for c in context.consumers)


def keep_proc_current(
    nodes: Sequence[tuple[SimulatedNode, Path]], stop: threading.Event, poll_seconds: float = 60.0
) -> None:
    """Rewrite each node's simulated ``/proc`` at every presence change of its scheduled pods
    until ``stop`` is set (run it in a thread; it returns at once when no pod is scheduled).
    Waits until the next change, at most ``poll_seconds`` (the clock may be moved by hand)."""
    scheduled = [(n, root) for n, root in nodes if any(p.schedule for p in n.spec.pods)]
    if not scheduled:
        return
    while not stop.is_set():
        now = scheduled[0][0].clock.now()
        for node, root in scheduled:
            node.write_proc(root, now)
        upcoming = [
            change
            for node, _root in scheduled
            for change in node.spec.presence_changes(now, now + poll_seconds)[:1]
        ]
        stop.wait(max(0.05, min(upcoming, default=now + poll_seconds) - now))


class SimulatedFleet:
    """All nodes of a fleet description, sharing one clock."""

    def __init__(self, spec: FleetSpec, clock: Clock) -> None:
        self.spec = spec
        self.clock = clock
        self._nodes: dict[str, SimulatedNode] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path, clock: Clock) -> SimulatedFleet:
        return cls(load_fleet(path), clock)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names, in the order of the description."""
        return tuple(node.name for node in self.spec.nodes)

    def node(self, name: str) -> SimulatedNode:
        """The simulated node ``name`` (KeyError when the fleet has none by that name)."""
        with self._lock:
            node = self._nodes.get(name)
            if node is None:
                node = SimulatedNode(self.spec, self.spec.node(name), self.clock)
                self._nodes[name] = node
            return node
