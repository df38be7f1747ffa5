"""Dynamic Resource Allocation: how NVIDIA's DRA driver names the GPUs it hands out.

With DRA, the kubelet's pod-resources API reports a claim's devices as
``DynamicResource.claim_resources`` (Kubernetes 1.31+: driver, pool and device name; 1.27-1.30:
only CDI device names), never as NVML UUIDs. NVIDIA's driver (``gpu.nvidia.com``,
https://github.com/NVIDIA/k8s-dra-driver-gpu, ``cmd/gpu-kubelet-plugin/deviceinfo.go`` and
``cdi.go``) names them::

    gpu-<minor>                                    a whole GPU (NVML minor number)
    gpu-<minor>-mig-<gi profile id>-<start>-<size> a MIG device (GPU instance placement)
    k8s.gpu.nvidia.com/device=<device name>        its CDI device
    k8s.gpu.nvidia.com/claim=<claim uid>-<device name>   its per-claim CDI device

and publishes each device in a ``ResourceSlice`` (pool = the node name) whose attributes say
what it is: ``type`` ("gpu" or "mig"), ``uuid`` (``GPU-...`` or ``MIG-...``) and, for MIG,
``parentUUID``. That table is the authoritative map from a device name to a UUID (NVIDIA's
dcgm-exporter resolves claims the same way); without it, ``gpu-<minor>`` is still found by
minor number. CDI devices of the NVIDIA Container Toolkit's own spec
(``nvidia.com/gpu=<index|GPU-uuid|MIG-uuid>``) carry an id :mod:`exporter.deviceids` parses.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.errors import ExporterError

log = logging.getLogger("exporter")

NVIDIA_GPU_DRIVER = "gpu.nvidia.com"
# NVIDIA's drivers name their CDI vendor "k8s." + the DRA driver name.
_CDI_DRIVER_VENDOR_PREFIX = "k8s."
# The Container Toolkit's own CDI kind; its device names are device-plugin style ids.
TOOLKIT_CDI_KIND = "nvidia.com/gpu"

_GPU_NAME = re.compile(r"^gpu-(?P<minor>\d+)$")
_CLAIM_UID_PREFIX = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-")

DeviceKey = tuple[str, str, str]  # (driver, pool, device name)


@dataclass(frozen=True)
class ClaimDevice:
    """One device of a claim as the kubelet reported it, before it is matched to a UUID."""

    driver: str  # DRA driver ("gpu.nvidia.com"); for a toolkit CDI device, its kind
    pool: str  # "" when the kubelet reported CDI names only
    device: str  # "gpu-0", "gpu-0-mig-9-4-2", or a device-plugin style id (toolkit CDI)


def cdi_device(cdi_name: str) -> ClaimDevice | None:
    """The device a fully qualified CDI name (``vendor/class=name``) stands for, or None.

    ``k8s.<driver>/device=<name>`` and ``k8s.<driver>/claim=<claim uid>-<name>`` give the
    driver's device name; ``nvidia.com/gpu=<id>`` gives the toolkit's id.
    """
    kind, sep, name = cdi_name.partition("=")
    if not sep or not name or "/" not in kind:
        return None
    if kind == TOOLKIT_CDI_KIND:
        return ClaimDevice(TOOLKIT_CDI_KIND, "", name)
    vendor, _, cdi_class = kind.partition("/")
    if not vendor.startswith(_CDI_DRIVER_VENDOR_PREFIX):
        return None
    driver = vendor.removeprefix(_CDI_DRIVER_VENDOR_PREFIX)
    if cdi_class == "claim":
        name = _CLAIM_UID_PREFIX.sub("", name, count=1)
    elif cdi_class != "device":
        return None
    return ClaimDevice(driver, "", name)


def gpu_minor(device_name: str) -> int | None:
    """The NVML minor number in a whole-GPU device name (``gpu-3`` -> 3), else None."""
    match = _GPU_NAME.match(device_name)
    return int(match["minor"]) if match is not None else None


def devices_from_resource_slices(slices: Sequence[Mapping[str, Any]]) -> dict[DeviceKey, str]:
    """(driver, pool, device name) -> ``GPU-...``/``MIG-...`` from ResourceSlice objects.

    Reads ``resource.k8s.io/v1`` (``spec.devices[].attributes``) and ``v1beta1``
    (``spec.devices[].basic.attributes``) shapes; devices without a ``uuid`` are left out.
    Attribute names may be qualified with the driver's domain (``gpu.nvidia.com/uuid``).
    """
    table: dict[DeviceKey, str] = {}
    for item in slices:
        spec = item.get("spec") or {}
        driver = str(spec.get("driver") or "")
        pool = str((spec.get("pool") or {}).get("name") or "")
        for device in spec.get("devices") or ():
            name = str(device.get("name") or "")
            attributes = device.get("attributes") or (device.get("basic") or {}).get("attributes")
            uuid = _string_attribute(attributes or {}, driver, "uuid")
            if name and uuid:
                table[(driver, pool, name)] = uuid
    return table


def _string_attribute(attributes: Mapping[str, Any], driver: str, name: str) -> str | None:
    for key in (name, f"{driver}/{name}"):
        value = attributes.get(key)
        if isinstance(value, Mapping) and isinstance(value.get("string"), str):
            return str(value["string"])
    return None


class ResourceSliceTable:
    """Device name -> UUID from the node's ResourceSlices, read lazily through ``list_slices``.

    The slices are read on the first lookup and again when a lookup misses, at most every
    ``min_refresh_seconds`` (devices are published once per driver start or MIG change, so a
    miss is the only sign the table is stale). A failed read keeps the last table: lookups
    then fall back to what the name itself says (:func:`gpu_minor`). Thread-safe.
    """

    def __init__(
        self,
        list_slices: Callable[[], Sequence[Mapping[str, Any]]],
        min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_slices = list_slices
        self._min_refresh_seconds = min_refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._table: dict[DeviceKey, str] = {}
        self._read_at: float | None = None

    def uuid(self, device: ClaimDevice) -> str | None:
        """The ``GPU-...``/``MIG-...`` UUID of ``device``, or None when no slice names it."""
        key = (device.driver, device.pool, device.device)
        with self._lock:
            found = self._lookup(key)
            if found is None and self._due():
                self._refresh()
                found = self._lookup(key)
            return found

    def _lookup(self, key: DeviceKey) -> str | None:
        if key[1]:
            return self._table.get(key)
        # CDI names carry no pool; on one node's slices the device name is unique per driver.
        for (driver, _pool, name), uuid in self._table.items():
            if driver == key[0] and name == key[2]:
                return uuid
        return None

    def _due(self) -> bool:
        return self._read_at is None or (self._clock() - self._read_at >= self._min_refresh_seconds)

    def _refresh(self) -> None:
        self._read_at = self._clock()
        try:
            self._table = devices_from_resource_slices(self._list_slices())
        except ExporterError as exc:
            log.warning("reading ResourceSlices failed (DRA devices by name only): %s", exc)
