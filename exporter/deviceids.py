"""Parsing of the device ids the kubelet reports for NVIDIA resources.

Device plugins name the same hardware in several ways, depending on the plugin (NVIDIA's
k8s-device-plugin, GKE's), its version and its sharing mode, and the kubelet reports the ids
unchanged (``ContainerDevices.device_ids`` of its pod-resources API). :func:`parse_device_id`
turns any known form into a :class:`DeviceRef` that says *how* to find the device on this node;
resolving it against NVML's view is :mod:`exporter.attribution`'s job. Sources:

* https://github.com/NVIDIA/k8s-device-plugin (``--device-id-strategy``, time-slicing and MPS
  replicas, MIG strategies);
* https://github.com/GoogleCloudPlatform/container-engine-accelerators (GKE's ``nvidia<N>``
  forms);
* https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/
  (the pod-resources API, "Monitoring device plugin resources").

Forms understood::

    GPU-<uuid>                 whole GPU by UUID (NVIDIA device plugin default)
    <n>                        whole GPU by index (plugin started with --device-id-strategy=index)
    <uuid>::<n>                time-slicing / MPS replica n of a GPU whose UUID lacks "GPU-"
    GPU-<uuid>::<n>            time-slicing / MPS replica n
    MIG-<uuid>[::<n>]          MIG device by its own UUID (R470+ drivers), optional replica
    MIG-GPU-<uuid>/<gi>/<ci>   MIG device, pre-R470 form: parent UUID, GPU and compute instance
    nvidia<N>                  GKE: whole GPU N
    nvidia<N>/vgpu<k>          GKE time-sharing: replica k of GPU N
    nvidia<N>/gi<g>            GKE MIG: GPU instance g on GPU N
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from exporter.errors import ExporterError

DeviceKind = Literal["gpu", "mig"]

# NVML UUIDs are 8-4-4-4-12 hex; only the prefix-less replica form needs the strict shape to be
# told apart from garbage, the prefixed forms accept any alphanumeric/dash body.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_BODY = r"[0-9A-Za-z][0-9A-Za-z-]*"

_REPLICA = re.compile(r"^(?P<base>.+)::(?P<replica>\d+)$")
_GPU_UUID = re.compile(rf"^GPU-(?P<body>{_BODY})$")
_BARE_UUID = re.compile(rf"^(?P<body>{_UUID})$")
_INDEX = re.compile(r"^(?P<index>\d+)$")
_MIG_LEGACY = re.compile(rf"^MIG-GPU-(?P<body>{_BODY})/(?P<gi>\d+)/(?P<ci>\d+)$")
_MIG_UUID = re.compile(rf"^MIG-(?P<body>{_BODY})$")
_GKE = re.compile(r"^nvidia(?P<index>\d+)(?:/(?:vgpu(?P<vgpu>\d+)|gi(?P<gi>\d+)))?$")


class DeviceIdError(ExporterError, ValueError):
    """A device id in none of the forms this module knows."""


@dataclass(frozen=True)
class DeviceRef:
    """How to find one allocated device on this node.

    Exactly one way of finding the GPU is set: ``gpu_uuid`` ("GPU-..." form) or ``index``; a MIG
    device is found either by ``mig_uuid`` alone or by the GPU plus ``gpu_instance_id`` (and
    ``compute_instance_id`` when the id names it). ``replica`` is the time-slicing/MPS replica.
    """

    kind: DeviceKind
    gpu_uuid: str | None = None
    mig_uuid: str | None = None
    index: int | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    replica: int | None = None

    @property
    def shared(self) -> bool:
        """True for a replica of a time-sliced or MPS-shared device."""
        return self.replica is not None


def parse_device_id(device_id: str) -> DeviceRef:
    """Parse one kubelet device id; raise :class:`DeviceIdError` for an unknown form."""
    text = device_id.strip()
    if not text:
        raise DeviceIdError("empty device id")

    replica: int | None = None
    base = text
    replica_match = _REPLICA.match(text)
    if replica_match is not None:
        base = replica_match["base"]
        replica = int(replica_match["replica"])

    ref = _parse_base(base, replica)
    if ref is None:
        raise DeviceIdError(
            f"unrecognised device id {device_id!r}: expected GPU-<uuid>, <index>, "
            "[GPU-]<uuid>::<n>, MIG-<uuid>[::<n>], MIG-GPU-<uuid>/<gi>/<ci>, nvidia<N>, "
            "nvidia<N>/vgpu<k> or nvidia<N>/gi<g>"
        )
    return ref


def _parse_base(base: str, replica: int | None) -> DeviceRef | None:
    # MIG-GPU-... must be tried before MIG-..., which would also match it.
    if (m := _MIG_LEGACY.match(base)) is not None:
        return DeviceRef(
            kind="mig",
            gpu_uuid=f"GPU-{m['body']}",
            gpu_instance_id=int(m["gi"]),
            compute_instance_id=int(m["ci"]),
            replica=replica,
        )
    if (m := _MIG_UUID.match(base)) is not None:
        return DeviceRef(kind="mig", mig_uuid=base, replica=replica)
    if (m := _GPU_UUID.match(base)) is not None:
        return DeviceRef(kind="gpu", gpu_uuid=base, replica=replica)
    if (m := _INDEX.match(base)) is not None:
        return DeviceRef(kind="gpu", index=int(m["index"]), replica=replica)
    if (m := _BARE_UUID.match(base)) is not None:
        # Some time-slicing configs report the UUID without NVML's "GPU-" prefix.
        return DeviceRef(kind="gpu", gpu_uuid=f"GPU-{m['body']}", replica=replica)
    if (m := _GKE.match(base)) is not None:
        index = int(m["index"])
        if m["gi"] is not None:
            if replica is not None:
                return None
            return DeviceRef(kind="mig", index=index, gpu_instance_id=int(m["gi"]))
        if m["vgpu"] is not None:
            if replica is not None:
                return None  # two replica markers: not a form any plugin emits
            return DeviceRef(kind="gpu", index=index, replica=int(m["vgpu"]))
        return DeviceRef(kind="gpu", index=index, replica=replica)
    return None
