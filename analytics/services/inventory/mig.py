"""MIG layout use cases: create (validated placement), delete, list, free instances, statistics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.clock import Clock
from analytics.errors import (
    AnalyticsError,
    GpuNotAvailable,
    InsufficientResources,
    MigNotSupported,
    ResourceNotFound,
    ValidationFailed,
)
from analytics.paging import Page, PageRequest
from analytics.services.inventory.migconfig import MIG_CONFIG_LABEL, MigConfigPublisher
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.events import EventSink, EventType
from analytics.services.kernel.ids import mig_instance_id
from analytics.services.kernel.pricebook import PriceBook
from analytics.services.kernel.pricing import hourly_price
from analytics.settings import MigPricing
from analytics.store import allocations as allocation_store
from analytics.store import devices as device_store
from analytics.store import mig as mig_store
from analytics.store.db import Database
from analytics.store.devices import DeviceRecord
from analytics.store.mig import MigInstanceRecord
from gpucatalog.mig import mig_profiles
from gpucatalog.placement import (
    MIG_NOT_SUPPORTED,
    MigLayoutError,
    Placement,
    mig_config_name,
    mig_parted_yaml,
    resource_name,
    stranded_slices,
    validate_layout,
)


def instance_state(desired: bool, observed: bool) -> str:
    """PENDING: asked for, not (or no longer) reported by the exporter; APPLIED: asked for and
    reported; UNMANAGED: reported but not asked for through this API."""
    if observed:
        return "APPLIED" if desired else "UNMANAGED"
    return "PENDING"


@dataclass(frozen=True)
class MigInstanceView:
    instance_id: str
    device_id: str
    node_name: str
    model_id: str
    profile: str
    memory_gb: float
    compute_slices: int
    memory_slices: int
    start_slice: int
    state: str
    desired: bool
    observed: bool
    mig_uuid: str | None
    allocated: bool
    allocation_id: str | None
    resource_name: str
    cost_per_hour: float
    created_at: datetime


@dataclass(frozen=True)
class MigLayoutView:
    device_id: str
    node_name: str
    device_index: int
    model_id: str
    device_status: str
    instances: list[MigInstanceView]
    pending_instances: int
    free_memory_slices: list[int]
    stranded_memory_slices: list[int]
    stranded_compute_slices: int
    mig_config: dict[str, Any] | None
    desired_layout: list[str]
    observed_layout: list[str]
    in_sync: bool
    drift: dict[str, list[str]]


def layout_error(exc: MigLayoutError) -> AnalyticsError:
    if exc.code == MIG_NOT_SUPPORTED:
        return MigNotSupported(exc.message, exc.details)
    # The layout is the request body's profileIds: VALIDATION_ERROR, naming the field.
    return ValidationFailed(exc.message, fields={"profileIds": [exc.message]}, context=exc.details)


# analytics.services.ledger.expiry.expire_due: ends the allocations past their planned release
# in the caller's write transaction (conn, now, actor, events) and says how many.
ExpireDue = Callable[[Any, datetime, str | None, EventSink | None], int]


class MigService:
    def __init__(
        self,
        database: Database,
        catalogue: Catalogue,
        clock: Clock,
        pricing: MigPricing,
        prices: PriceBook,
        expire_due: ExpireDue,
        events: EventSink | None = None,
        publisher: MigConfigPublisher | None = None,
    ) -> None:
        self._db = database
        self._catalogue = catalogue
        self._clock = clock
        self._pricing = pricing
        self._prices = prices
        # The ledger's expiry, run first in every write that may free an instance.
        self._expire_due = expire_due
        # MIG_LAYOUT_APPLIED events (docs/webhooks.md); None: none.
        self._events = events
        # Writes each node's desired layouts to the cluster (mig_apply); None: nobody does.
        self._publisher = publisher

    def create(self, device_id: str, profiles: Sequence[str], actor: str | None) -> MigLayoutView:
        """Add instances to the device's layout; they stay PENDING until the exporter sees them."""
        now = self._clock.now()

        def run(conn: Any) -> MigLayoutView:
            device = _locked_device(conn, device_id, now)
            existing = mig_store.instances(conn, now, device_id=device_id)
            placements = self._place(device, profiles, existing)
            if device.status not in ("ACTIVE", "MIG_ENABLED"):
                raise GpuNotAvailable(
                    f"GPU device {device_id} is {device.status}; MIG layouts need an ACTIVE GPU.",
                    {"deviceId": device_id, "deviceStatus": device.status},
                )
            # A layout is an operator's decision: the ledger decides, not the attribution (a
            # pod the exporter shows on the GPU does not block it; device.allocated would).
            if not existing and allocation_store.active_on_resources(conn, [device_id], now):
                raise GpuNotAvailable(
                    f"GPU device {device_id} is allocated as a whole GPU; release it first.",
                    {"deviceId": device_id},
                )
            layout = self._insert(conn, device, existing, placements, now, actor)
            return layout

        layout = self._db.write(run)
        self.publish([layout.node_name])
        return layout

    def carve_in(
        self,
        conn: Any,
        device_id: str,
        placements: Sequence[Placement],
        now: datetime,
        actor: str | None,
    ) -> list[str]:
        """MIG on demand (the ledger's): ``placements`` (a valid whole-GPU layout) become the
        desired layout of the empty GPU ``device_id`` inside the caller's write transaction,
        exactly as :meth:`create` would store them. Returns the new instance ids, in the order
        of ``placements``. The caller checks the GPU is idle and calls :meth:`publish` for its
        node once the transaction has committed."""
        device = _locked_device(conn, device_id, now)
        existing = mig_store.instances(conn, now, device_id=device_id)
        if existing:
            raise GpuNotAvailable(
                f"GPU device {device_id} already has a MIG layout.", {"deviceId": device_id}
            )
        placed = self._place(device, [p.profile for p in placements], existing)
        if [(p.profile, p.start) for p in placed] != [(p.profile, p.start) for p in placements]:
            # The catalogue's search is deterministic; a different answer means a caller bug.
            raise GpuNotAvailable(
                f"The MIG layout for {device_id} does not place as asked.",
                {"deviceId": device_id},
            )
        layout = self._insert(conn, device, existing, placed, now, actor)
        carved = {(p.profile, p.start) for p in placed}
        by_place = {
            (i.profile, i.start_slice): i.instance_id
            for i in layout.instances
            if (i.profile, i.start_slice) in carved
        }
        return [by_place[(p.profile, p.start)] for p in placed]

    def publish(self, node_names: Sequence[str]) -> None:
        """Hand each node's desired layouts to the cluster (the GPU operator's mig-manager),
        when a publisher is configured (``mig_apply``); a failure is logged and leaves the
        instances PENDING: publishing again (any later change, or the inventory sync) heals it."""
        if self._publisher is None:
            return
        for node_name in dict.fromkeys(node_names):
            self._publisher.publish(node_name)

    def _insert(
        self,
        conn: Any,
        device: DeviceRecord,
        existing: Sequence[MigInstanceRecord],
        placements: Sequence[Placement],
        now: datetime,
        actor: str | None,
    ) -> MigLayoutView:
        device_id = device.device_id
        gb = {p.name: p.memory_gb for p in mig_profiles(device.model_id)}
        used = mig_store.instance_numbers(conn, device_id)
        numbers = (n for n in range(1, 1000) if n not in used)
        rows = [
            {
                "instance_id": mig_instance_id(device_id, next(numbers)),
                "device_id": device_id,
                "profile": p.profile,
                "start_slice": p.start,
                "memory_slices": p.memory_slices,
                "compute_slices": p.compute_slices,
                "memory_gb": gb[p.profile],
                "desired": True,
                "observed": False,
                "created_at": now,
            }
            for p in placements
        ]
        mig_store.insert_instances(conn, rows)
        if device.status == "ACTIVE":
            device_store.set_status(conn, device_id, "MIG_ENABLED", now)
        layout = self._layout(conn, device_id, now)
        self._record_applied(
            conn, layout, "CREATED", [str(row["instance_id"]) for row in rows], actor
        )
        return layout

    def delete(self, device_id: str, actor: str | None) -> MigLayoutView:
        """Remove every MIG instance of the device; refused while any is allocated."""
        now = self._clock.now()

        def run(conn: Any) -> MigLayoutView:
            self._expire_due(conn, now, actor, self._events)
            device = _locked_device(conn, device_id, now)
            existing = mig_store.instances(conn, now, device_id=device_id)
            held = [i for i in existing if i.allocation_id is not None]
            if held:
                raise GpuNotAvailable(
                    f"GPU device {device_id} has {len(held)} allocated MIG instance(s); "
                    "release them before deleting the layout.",
                    {
                        "deviceId": device_id,
                        "allocatedInstances": [
                            {"instanceId": i.instance_id, "allocationId": i.allocation_id}
                            for i in held
                        ],
                    },
                )
            mig_store.retire_instances(conn, device_id)
            if device.status == "MIG_ENABLED":
                device_store.set_status(conn, device_id, "ACTIVE", now)
            layout = self._layout(conn, device_id, now)
            self._record_applied(conn, layout, "DELETED", [i.instance_id for i in existing], actor)
            return layout

        layout = self._db.write(run)
        self.publish([layout.node_name])
        return layout

    def _record_applied(
        self,
        conn: Any,
        layout: MigLayoutView,
        action: str,
        instance_ids: list[str],
        actor: str | None,
    ) -> None:
        """MIG_LAYOUT_APPLIED in the change's own transaction."""
        if self._events is None:
            return
        config = layout.mig_config or {}
        self._events.record_in(
            conn,
            EventType.MIG_LAYOUT_APPLIED,
            {
                "deviceId": layout.device_id,
                "nodeName": layout.node_name,
                "modelId": layout.model_id,
                "action": action,
                "instanceIds": instance_ids,
                "desiredLayout": layout.desired_layout,
                "observedLayout": layout.observed_layout,
                "migConfigLabel": config.get("label_value"),
                "actor": actor,
                "severity": "INFO",
            },
        )

    def layout(self, device_id: str) -> MigLayoutView:
        now = self._clock.now()
        with self._db.read() as conn:
            return self._layout(conn, device_id, now)

    def available(
        self, page: PageRequest | None = None
    ) -> list[MigInstanceView] | Page[list[MigInstanceView]]:
        """Free instances by node name, GPU index and instance id; ``page``: that page alone."""
        with self._db.read() as conn:
            if page is None:
                records = mig_store.instances(conn, self._clock.now(), free_only=True)
                total = len(records)
            else:
                records, total = mig_store.page_free_instances(conn, self._clock.now(), page)
            prices = self._prices.hourly_prices(conn)
        views = [self._instance(r, prices) for r in records]
        return views if page is None else Page(views, page, total)

    def statistics(self) -> dict[str, Any]:
        with self._db.read() as conn:
            records = mig_store.instances(conn, self._clock.now())
        total = len(records)
        allocated = sum(1 for r in records if not r.free)
        by_profile: dict[str, dict[str, int]] = {}
        for r in records:
            entry = by_profile.setdefault(r.profile, {"total": 0, "allocated": 0, "free": 0})
            entry["total"] += 1
            entry["free" if r.free else "allocated"] += 1
        memory_total = sum(r.memory_gb for r in records)
        memory_allocated = sum(r.memory_gb for r in records if not r.free)
        return {
            "total_instances": total,
            "allocated_instances": allocated,
            "free_instances": total - allocated,
            "pending_instances": sum(1 for r in records if not r.observed),
            "mig_enabled_devices": len({r.device_id for r in records}),
            "instances_by_profile": by_profile,
            "instances_by_state": dict(
                Counter(instance_state(r.desired, r.observed) for r in records)
            ),
            "devices_with_drift": sorted({r.device_id for r in records if r.desired != r.observed}),
            "allocation_rate": round(100.0 * allocated / total, 2) if total else 0.0,
            "memory_allocation_rate": (
                round(100.0 * memory_allocated / memory_total, 2) if memory_total else 0.0
            ),
        }

    def _place(
        self,
        device: DeviceRecord,
        profiles: Sequence[str],
        existing: Sequence[MigInstanceRecord],
    ) -> list[Placement]:
        placed = [
            Placement(i.profile, i.start_slice, i.memory_slices, i.compute_slices) for i in existing
        ]
        try:
            return validate_layout(device.model_id, profiles, placed)
        except MigLayoutError as exc:
            if not placed or exc.code == MIG_NOT_SUPPORTED:
                raise layout_error(exc) from exc
            failure = exc
        # The request is valid on an empty GPU, so only the current layout blocks it: 409.
        try:
            validate_layout(device.model_id, profiles)
        except MigLayoutError as exc:
            raise layout_error(exc) from exc
        raise InsufficientResources(
            f"The GPU's current MIG layout leaves no room: {failure.message}",
            {
                **failure.details,
                "deviceId": device.device_id,
                "existingInstances": [f"{p.profile}@{p.start}" for p in placed],
            },
        ) from failure

    def _layout(self, conn: Any, device_id: str, now: datetime) -> MigLayoutView:
        device = device_store.get_device(conn, device_id, now)
        if device is None:
            raise _not_found(device_id)
        records = mig_store.instances(conn, now, device_id=device_id)
        # What the GPU still has of a deleted layout: observed, in no layout (see _drift).
        retiring = mig_store.retiring_instances(conn, now, device_id)
        prices = self._prices.hourly_prices(conn)
        views = [self._instance(r, prices) for r in records]
        placed = [
            Placement(r.profile, r.start_slice, r.memory_slices, r.compute_slices) for r in records
        ]
        model = self._catalogue.model(device.model_id)
        free: list[int] = []
        stranded: dict[str, Any] = {"memorySlices": [], "computeSlices": 0}
        config = None
        if model.mig_support:
            # With drift, desired and unexpected observed instances can overlap; the free and
            # stranded slices are then those of what the GPU really has.
            observed = [
                Placement(r.profile, r.start_slice, r.memory_slices, r.compute_slices)
                for r in [*records, *retiring]
                if r.observed
            ]
            for layout in (placed, observed):
                try:
                    stranded = dict(stranded_slices(device.model_id, layout))
                except MigLayoutError:
                    continue
                free = list(stranded["freeMemorySlices"])
                break
        # The config that applies the desired layout (or, with none desired, the observed one).
        profiles = [r.profile for r in records if r.desired] or [r.profile for r in records]
        if profiles:
            name = mig_config_name(device.model_id, profiles)
            config = {
                "label_key": MIG_CONFIG_LABEL,
                "label_value": name,
                "mig_parted_config": mig_parted_yaml({name: [([device.device_index], profiles)]}),
            }
        return MigLayoutView(
            device_id=device.device_id,
            node_name=device.node_name,
            device_index=device.device_index,
            model_id=device.model_id,
            device_status=device.status,
            instances=views,
            pending_instances=sum(1 for r in records if not r.observed),
            free_memory_slices=free,
            stranded_memory_slices=list(stranded["memorySlices"]),
            stranded_compute_slices=int(stranded["computeSlices"]),
            mig_config=config,
            desired_layout=_layout_names(r for r in records if r.desired),
            observed_layout=_layout_names(r for r in [*records, *retiring] if r.observed),
            in_sync=not any(_drift(records, retiring).values()),
            drift=_drift(records, retiring),
        )

    def _instance(
        self, record: MigInstanceRecord, prices: Mapping[str, float | None]
    ) -> MigInstanceView:
        return MigInstanceView(
            instance_id=record.instance_id,
            device_id=record.device_id,
            node_name=record.node_name,
            model_id=record.model_id,
            profile=record.profile,
            memory_gb=record.memory_gb,
            compute_slices=record.compute_slices,
            memory_slices=record.memory_slices,
            start_slice=record.start_slice,
            state=instance_state(record.desired, record.observed),
            desired=record.desired,
            observed=record.observed,
            mig_uuid=record.mig_uuid,
            allocated=not record.free,
            allocation_id=record.allocation_id,
            resource_name=resource_name(record.profile),
            cost_per_hour=hourly_price(
                prices.get(record.model_id),
                record.model_id,
                record.compute_slices,
                record.memory_slices,
                self._pricing,
            ),
            created_at=record.created_at,
        )


def _layout_names(records: Any) -> list[str]:
    """``profile@start`` of each instance, by start slice: a layout as people compare them."""
    return [f"{r.profile}@{r.start_slice}" for r in sorted(records, key=lambda r: r.start_slice)]


def _drift(
    records: Sequence[MigInstanceRecord], retiring: Sequence[MigInstanceRecord]
) -> dict[str, list[str]]:
    """Where the desired layout and the observed one differ: instances asked for and not
    reported (pending), reported without being asked for (unmanaged), and deleted from the
    layout but still reported (retiring)."""
    return {
        "pending": [r.instance_id for r in records if r.desired and not r.observed],
        "unmanaged": [r.instance_id for r in records if r.observed and not r.desired],
        "retiring": [r.instance_id for r in retiring],
    }


def _locked_device(conn: Any, device_id: str, now: datetime) -> DeviceRecord:
    device = device_store.lock_device(conn, device_id, now)
    if device is None:
        raise _not_found(device_id)
    return device


def _not_found(device_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"GPU device {device_id} not found.", {"deviceId": device_id})
