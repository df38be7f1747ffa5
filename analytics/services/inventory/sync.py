"""Inventory follows the hardware: devices and MIG instances from the exporter's info series.

One run reads ``gpu_info``, ``gpu_up`` and ``gpu_mig_info`` in one query, then applies the
difference to the database in one write transaction:

* a GPU the exporter reports and we do not know is registered (id ``{node}-GPU-{index:02d}``,
  model from the NVML product name; an unknown product is recorded, not registered);
* identity fields of known GPUs (uuid, serial, PCI bus id, driver, VBIOS, product) follow the
  exporter; purchase and warranty data are never touched;
* presence: REPORTED, LOST (``gpu_up`` 0) or MISSING (no longer reported); nothing is deleted;
* observed MIG instances are matched to the desired ones (by MIG uuid, then by profile and
  placement): matched ones become APPLIED, unexpected ones are recorded as UNMANAGED, and
  desired ones the GPU no longer has fall back to PENDING.

Runs are periodic (``sync_interval_seconds``) and on demand. A lease row in the database
makes sure that one worker of all processes and replicas runs at a time; a second caller waits
for the running sync and gets its result. A run that changes nothing writes only
``last_seen_at``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics.clock import Clock
from analytics.errors import AnalyticsError, MetricsUnavailable
from analytics.prom import PromClient, Sample
from analytics.prom import queries as q
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.ids import device_id_for, mig_instance_id
from analytics.services.kernel.periodic import Periodic, holder_id
from analytics.store import devices as device_store
from analytics.store import holders as holder_store
from analytics.store import mig as mig_store
from analytics.store import sync as sync_store
from analytics.store.db import Database
from analytics.store.sync import InventoryRow, MigRow
from gpucatalog import model_for_product_name
from gpucatalog.instance_ids import start_slice_for
from gpucatalog.mig import mig_profiles, total_slices

log = logging.getLogger(__name__)

JOB = "inventory"
REPORTED, LOST, MISSING = "REPORTED", "LOST", "MISSING"
_IDENTITY_FIELDS = (
    "gpu_uuid",
    "serial_number",
    "pci_address",
    "driver_version",
    "firmware_version",
    "product_name",
    "model_id",
)


@dataclass(frozen=True)
class ReportedGpu:
    node_name: str
    device_index: int
    gpu_uuid: str
    product_name: str
    serial_number: str | None
    pci_address: str | None
    driver_version: str | None
    firmware_version: str | None
    up: bool | None  # None: gpu_info without gpu_up


@dataclass(frozen=True)
class ObservedMig:
    gpu_uuid: str
    mig_uuid: str
    profile: str
    gpu_instance_id: int | None
    compute_instance_id: int | None


@dataclass
class SyncResult:
    """What one run found and changed (device and instance ids)."""

    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "OK"
    error: str | None = None
    nodes: list[str] | None = None  # None: every node
    nodes_reported: list[str] = field(default_factory=list)
    devices_reported: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unrecognized: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    mig_applied: list[str] = field(default_factory=list)
    mig_unmanaged: list[str] = field(default_factory=list)
    mig_pending: list[str] = field(default_factory=list)
    mig_removed: list[str] = field(default_factory=list)
    # True when this caller waited for a sync another worker was running and got its result.
    coalesced: bool = False

    @property
    def changed(self) -> bool:
        return any(
            (
                self.added,
                self.updated,
                self.lost,
                self.missing,
                self.restored,
                self.mig_applied,
                self.mig_unmanaged,
                self.mig_pending,
                self.mig_removed,
            )
        )

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SyncResult:
        data = json.loads(text)
        for key in ("started_at", "finished_at"):
            if data.get(key):
                data[key] = datetime.fromisoformat(data[key])
        data.pop("changed", None)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class SyncStatus:
    last: SyncResult | None
    running_since: datetime | None
    interval_seconds: int


class InventorySync:
    def __init__(
        self,
        database: Database,
        catalogue: Catalogue,
        clock: Clock,
        prom: PromClient,
        interval_seconds: int,
        republish: Callable[[Sequence[str]], object] | None = None,
    ) -> None:
        self._db = database
        self._catalogue = catalogue
        self._clock = clock
        self._prom = prom
        self.interval_seconds = interval_seconds
        # Long enough for a slow Prometheus and a busy database; a crashed holder's lease
        # expires after it.
        self._lease_seconds = max(30.0, 4 * prom.timeout_seconds)
        # MigConfigPublisher.republish when layouts are published to the cluster (mig_apply):
        # after each
        # run, nodes whose layout is not applied yet are published again, so a publish that
        # failed (Kubernetes API down) heals without a new change. Unchanged configs are not
        # rewritten, and an unchanged label value is no event to the mig-manager.
        self._republish = republish

    # -- entry points --------------------------------------------------------------------------

    def run(self, trigger: str = "manual", nodes: Sequence[str] | None = None) -> SyncResult:
        """Sync now. If another worker is syncing, wait for it and return its result when it
        covered these nodes; otherwise run once it is done."""
        requested_at = self._clock.now()
        deadline = time.monotonic() + self._lease_seconds
        while True:
            holder = holder_id()
            if self._acquire(holder):
                return self._run_holding(holder, trigger, nodes)
            if time.monotonic() > deadline:
                raise MetricsUnavailable(
                    "Another inventory sync is still running; try again shortly.",
                    {"job": JOB},
                )
            time.sleep(0.05)
            with self._db.read() as conn:
                current = sync_store.state(conn, JOB)
            if (
                current.holder is None
                and current.last_finished_at is not None
                and current.last_started_at is not None
                and current.last_started_at >= requested_at
                and current.last_result
            ):
                last = SyncResult.from_json(current.last_result)
                if last.nodes is None or (nodes is not None and set(nodes) <= set(last.nodes)):
                    last.coalesced = True
                    return last

    def run_if_due(self) -> SyncResult | None:
        """The periodic path: sync when the last run is older than the interval and no other
        worker is at it; None when nothing was done."""
        if self.interval_seconds <= 0:
            return None
        now = self._clock.now()
        with self._db.read() as conn:
            current = sync_store.state(conn, JOB)
        if current.last_finished_at is not None and now - current.last_finished_at < timedelta(
            seconds=self.interval_seconds * 0.9
        ):
            return None
        holder = holder_id()
        if not self._acquire(holder):
            return None
        return self._run_holding(holder, "schedule", None)

    def status(self) -> SyncStatus:
        with self._db.read() as conn:
            current = sync_store.state(conn, JOB)
        last = SyncResult.from_json(current.last_result) if current.last_result else None
        running = current.last_started_at if current.holder is not None else None
        return SyncStatus(last, running, self.interval_seconds)

    def unrecognized(self) -> list[sync_store.UnrecognizedGpu]:
        with self._db.read() as conn:
            return sync_store.unrecognized(conn)

    # -- one run -------------------------------------------------------------------------------

    def _acquire(self, holder: str) -> bool:
        now = self._clock.now()
        expires = now + timedelta(seconds=self._lease_seconds)
        return self._db.write(
            lambda conn: sync_store.acquire_lease(conn, JOB, holder, now, expires)
        )

    def _run_holding(self, holder: str, trigger: str, nodes: Sequence[str] | None) -> SyncResult:
        result = SyncResult(trigger=trigger, started_at=self._clock.now(), nodes=_sorted(nodes))
        try:
            reported, observed_mig, up_by_place = self._read(nodes)
            attribution = self._prom.query(q.pod_allocations(scope=q.DeviceScope(nodes=nodes)))

            def apply(conn: Any) -> None:
                self._apply(conn, result, reported, observed_mig, up_by_place, nodes)
                self._apply_holders(conn, attribution, nodes)

            self._db.write(apply)
        except AnalyticsError as exc:
            result.status = "FAILED"
            result.error = exc.message
            self._finish(holder, result)
            raise
        except Exception as exc:
            result.status = "FAILED"
            result.error = f"internal error ({type(exc).__name__})"
            self._finish(holder, result)
            raise
        self._finish(holder, result)
        if self._republish is not None:
            with self._db.read() as conn:
                drifting = mig_store.nodes_with_drift(conn)
            self._republish([n for n in drifting if nodes is None or n in nodes])
        if result.changed:
            log.info(
                "inventory sync: %d added, %d updated, %d lost, %d missing, %d restored, "
                "MIG %d applied, %d unmanaged, %d pending, %d removed",
                len(result.added),
                len(result.updated),
                len(result.lost),
                len(result.missing),
                len(result.restored),
                len(result.mig_applied),
                len(result.mig_unmanaged),
                len(result.mig_pending),
                len(result.mig_removed),
            )
        return result

    def _finish(self, holder: str, result: SyncResult) -> None:
        result.finished_at = self._clock.now()
        text = result.to_json()
        self._db.write(
            lambda conn: sync_store.finish(
                conn,
                JOB,
                holder,
                result.finished_at or result.started_at,
                result.trigger,
                result.status,
                text,
            )
        )

    def _read(
        self, nodes: Sequence[str] | None
    ) -> tuple[list[ReportedGpu], list[ObservedMig], dict[tuple[str, int], bool]]:
        samples = self._prom.query(q.inventory(q.DeviceScope(nodes=nodes)))
        return parse_inventory(samples)

    def _apply_holders(
        self, conn: Any, attribution: Sequence[Sample], nodes: Sequence[str] | None
    ) -> None:
        """Record which pod holds which GPU and MIG instance (the allocator skips them)."""
        device_ids = {
            r.gpu_uuid: r.device_id for r in sync_store.inventory_rows(conn) if r.gpu_uuid
        }
        instance_ids = {
            i.mig_uuid: i.instance_id
            for i in mig_store.instances(conn, self._clock.now())
            if i.mig_uuid
        }
        rows = []
        for sample in attribution:
            labels = sample.labels
            namespace, pod, node = labels.get("namespace"), labels.get("pod"), labels.get("node")
            if not namespace or not pod or not node:
                continue
            mig_uuid = labels.get("mig_uuid")
            resource_id = (
                instance_ids.get(mig_uuid) if mig_uuid else device_ids.get(labels.get("uuid", ""))
            )
            if resource_id is not None:
                rows.append(holder_store.Holder(resource_id, namespace, pod, node))
        holder_store.replace_holders(conn, nodes, rows, self._clock.now())

    def _apply(
        self,
        conn: Any,
        result: SyncResult,
        reported: list[ReportedGpu],
        observed_mig: list[ObservedMig],
        up_by_place: dict[tuple[str, int], bool],
        nodes: Sequence[str] | None,
    ) -> None:
        now = self._clock.now()
        # Reset the lists: a retried transaction must not report changes twice.
        for name in (
            "added",
            "updated",
            "lost",
            "missing",
            "restored",
            "unrecognized",
            "conflicts",
            "mig_applied",
            "mig_unmanaged",
            "mig_pending",
            "mig_removed",
        ):
            getattr(result, name).clear()
        result.devices_reported = len(reported)
        result.nodes_reported = sorted({g.node_name for g in reported})
        rows = sync_store.inventory_rows(conn, nodes)
        by_uuid = {r.gpu_uuid: r for r in rows if r.gpu_uuid}
        by_place = {(r.node_name, r.device_index): r for r in rows}
        # A uuid may sit on a device outside the node scope.
        if nodes is not None:
            by_uuid.update({r.gpu_uuid: r for r in sync_store.inventory_rows(conn) if r.gpu_uuid})
        mig_by_gpu: dict[str, list[ObservedMig]] = {}
        for instance in observed_mig:
            mig_by_gpu.setdefault(instance.gpu_uuid, []).append(instance)

        seen: set[str] = set()
        mig_devices: list[tuple[InventoryRow, str, list[ObservedMig]]] = []
        for gpu in reported:
            model = model_for_product_name(gpu.product_name)
            known_model = model is not None and self._catalogue.find(model.model_id) is not None
            row = by_uuid.get(gpu.gpu_uuid) or by_place.get((gpu.node_name, gpu.device_index))
            if row is not None and (row.node_name, row.device_index) != (
                gpu.node_name,
                gpu.device_index,
            ):
                # The same board now appears elsewhere: a device id names a place, so this
                # needs a person (re-register it); keep both records as they are.
                result.conflicts.append(
                    {
                        "gpuUuid": gpu.gpu_uuid,
                        "deviceId": row.device_id,
                        "reportedAt": device_id_for(gpu.node_name, gpu.device_index),
                    }
                )
                continue
            if not known_model or model is None:
                sync_store.record_unrecognized(
                    conn, gpu.gpu_uuid, gpu.node_name, gpu.device_index, gpu.product_name, now
                )
                result.unrecognized.append(
                    {
                        "node_name": gpu.node_name,
                        "device_index": gpu.device_index,
                        "gpu_uuid": gpu.gpu_uuid,
                        "product_name": gpu.product_name,
                    }
                )
                if row is None:
                    continue
            presence = LOST if gpu.up is False else REPORTED
            identity = {
                "gpu_uuid": gpu.gpu_uuid,
                "serial_number": gpu.serial_number,
                "pci_address": gpu.pci_address,
                "driver_version": gpu.driver_version,
                "firmware_version": gpu.firmware_version,
                "product_name": gpu.product_name,
            }
            if known_model and model is not None:
                identity["model_id"] = model.model_id
            observed_here = mig_by_gpu.get(gpu.gpu_uuid, [])
            if row is None:
                assert model is not None
                device_id = device_id_for(gpu.node_name, gpu.device_index)
                device_store.insert_device(
                    conn,
                    {
                        "device_id": device_id,
                        "node_name": gpu.node_name,
                        "device_index": gpu.device_index,
                        "status": "MIG_ENABLED" if observed_here else "ACTIVE",
                        "source": "exporter",
                        "registered_at": now,
                        "updated_at": now,
                        "last_seen_at": now,
                        "presence": presence,
                        **identity,
                    },
                )
                result.added.append(device_id)
                row = InventoryRow(
                    device_id=device_id,
                    node_name=gpu.node_name,
                    device_index=gpu.device_index,
                    model_id=model.model_id,
                    status="MIG_ENABLED" if observed_here else "ACTIVE",
                    presence=presence,
                    **{k: v for k, v in identity.items() if k != "model_id"},
                )
            else:
                changes = {
                    name: value
                    for name, value in identity.items()
                    if value is not None and getattr(row, name) != value
                }
                if row.presence != presence:
                    changes["presence"] = presence
                    if presence == LOST:
                        result.lost.append(row.device_id)
                    elif row.presence in (LOST, MISSING):
                        result.restored.append(row.device_id)
                if changes:
                    sync_store.update_device(conn, row.device_id, changes, now)
                    fields = sorted(_camel(k) for k in changes if k != "presence")
                    if fields:
                        result.updated.append({"device_id": row.device_id, "fields": fields})
            seen.add(row.device_id)
            if gpu.up is not False:
                mig_devices.append((row, identity.get("model_id") or row.model_id, observed_here))
        sync_store.touch_seen(conn, seen, now)

        for row in rows:
            if row.device_id in seen:
                continue
            # Reported only as gpu_up 0 without identity: the exporter cannot read it.
            if up_by_place.get((row.node_name, row.device_index)) is False:
                if row.presence != LOST:
                    sync_store.update_device(conn, row.device_id, {"presence": LOST}, now)
                    result.lost.append(row.device_id)
                continue
            if row.presence in (None, MISSING):
                continue
            sync_store.update_device(conn, row.device_id, {"presence": MISSING}, now)
            result.missing.append(row.device_id)

        existing = sync_store.mig_rows(conn, [row.device_id for row, _m, _o in mig_devices])
        held = sync_store.held_resources(conn, now)
        rows_by_device: dict[str, list[MigRow]] = {}
        for mig_row in existing:
            rows_by_device.setdefault(mig_row.device_id, []).append(mig_row)
        for row, model_id, observed_here in mig_devices:
            self._apply_mig(
                conn,
                result,
                row,
                model_id,
                observed_here,
                rows_by_device.get(row.device_id, []),
                held,
                now,
            )

    def _apply_mig(
        self,
        conn: Any,
        result: SyncResult,
        device: InventoryRow,
        model_id: str,
        observed: list[ObservedMig],
        rows: list[MigRow],
        held: set[str],
        now: datetime,
    ) -> None:
        if not observed and not any(r.observed for r in rows):
            return
        profiles = {p.name: p for p in mig_profiles(model_id)}
        _compute_total, memory_total = total_slices(model_id) if profiles else (0, 0)
        matched: dict[str, ObservedMig] = {}
        unmatched: list[ObservedMig] = []
        # A retiring row (its layout was deleted) keeps the instance it names out of the
        # unmanaged ones; a desired row that asks for the same place takes it first (the cluster
        # may keep the instance when the new layout holds it).
        by_mig_uuid = {r.mig_uuid: r for r in rows if r.mig_uuid and not r.retiring}
        for instance in observed:
            hit = by_mig_uuid.get(instance.mig_uuid)
            if hit is not None and hit.instance_id not in matched:
                matched[hit.instance_id] = instance
            else:
                unmatched.append(instance)
        still_unmatched: list[ObservedMig] = []
        for instance in unmatched:
            profile = profiles.get(instance.profile)
            start = (
                start_slice_for(
                    instance.gpu_instance_id,
                    profile.memory_slices,
                    memory_total,
                    profile.allowed_starts,
                )
                if profile is not None and instance.gpu_instance_id is not None
                else None
            )
            candidates = [
                r
                for r in rows
                if r.instance_id not in matched
                and r.profile == instance.profile
                # A retiring row stands only for the very instance it was.
                and (not r.retiring or r.mig_uuid in (None, instance.mig_uuid))
            ]
            candidates.sort(key=lambda r: (r.start_slice != start, not r.desired, r.instance_id))
            if candidates:
                matched[candidates[0].instance_id] = instance
            else:
                still_unmatched.append(instance)

        for mig_row in rows:
            found = matched.get(mig_row.instance_id)
            if found is None:
                if mig_row.observed:
                    if not mig_row.retiring and (mig_row.desired or mig_row.instance_id in held):
                        sync_store.update_mig_instance(
                            conn, mig_row.instance_id, {"observed": False}
                        )
                        result.mig_pending.append(mig_row.instance_id)
                    else:
                        sync_store.delete_mig_instances(conn, [mig_row.instance_id])
                        result.mig_removed.append(mig_row.instance_id)
                continue
            profile = profiles.get(found.profile)
            values: dict[str, Any] = {}
            if not mig_row.observed:
                values["observed"] = True
                values["observed_at"] = now
            for name, value in (
                ("mig_uuid", found.mig_uuid),
                ("gpu_instance_id", found.gpu_instance_id),
                ("compute_instance_id", found.compute_instance_id),
            ):
                if getattr(mig_row, name) != value:
                    values[name] = value
            if profile is not None and found.gpu_instance_id is not None:
                start = start_slice_for(found.gpu_instance_id, profile.memory_slices, memory_total)
                if start is not None and start != mig_row.start_slice:
                    values["start_slice"] = start
            if values:
                sync_store.update_mig_instance(conn, mig_row.instance_id, values)
                if not mig_row.observed:
                    (result.mig_applied if mig_row.desired else result.mig_unmanaged).append(
                        mig_row.instance_id
                    )

        used = {int(r.instance_id.rsplit("-", 1)[1]) for r in rows}
        numbers = (n for n in range(1, 1000) if n not in used)
        new_rows = []
        for instance in still_unmatched:
            profile = profiles.get(instance.profile)
            if profile is None:
                result.conflicts.append(
                    {
                        "deviceId": device.device_id,
                        "migUuid": instance.mig_uuid,
                        "reason": f"profile {instance.profile!r} is not a {model_id} profile",
                    }
                )
                continue
            start = (
                start_slice_for(
                    instance.gpu_instance_id,
                    profile.memory_slices,
                    memory_total,
                    profile.allowed_starts,
                )
                if instance.gpu_instance_id is not None
                else None
            )
            instance_id = mig_instance_id(device.device_id, next(numbers))
            new_rows.append(
                {
                    "instance_id": instance_id,
                    "device_id": device.device_id,
                    "profile": profile.name,
                    "start_slice": start if start is not None else 0,
                    "memory_slices": profile.memory_slices,
                    "compute_slices": profile.compute_slices,
                    "memory_gb": profile.memory_gb,
                    "desired": False,
                    "observed": True,
                    "mig_uuid": instance.mig_uuid,
                    "gpu_instance_id": instance.gpu_instance_id,
                    "compute_instance_id": instance.compute_instance_id,
                    "created_at": now,
                    "observed_at": now,
                }
            )
            result.mig_unmanaged.append(instance_id)
        mig_store.insert_instances(conn, new_rows)
        if observed and device.status == "ACTIVE":
            # A GPU carved into MIG instances cannot be handed out whole.
            sync_store.update_device(conn, device.device_id, {"status": "MIG_ENABLED"}, now)


# -- helpers ---------------------------------------------------------------------------------


def parse_inventory(
    samples: Sequence[Sample],
) -> tuple[list[ReportedGpu], list[ObservedMig], dict[tuple[str, int], bool]]:
    """The tagged answer of :func:`analytics.prom.queries.inventory` as records, plus
    ``gpu_up`` of GPUs reported without a uuid (unreadable since the exporter started), by
    (node, index)."""
    up: dict[str, bool] = {}
    up_by_place: dict[tuple[str, int], bool] = {}
    infos: list[dict[str, str]] = []
    migs: list[ObservedMig] = []
    for sample in samples:
        labels = sample.labels
        stat = labels.get(q.STAT_LABEL)
        if stat == "up" and labels.get("uuid"):
            up[labels["uuid"]] = sample.value >= 1
        elif stat == "up" and labels.get("node") and _int(labels.get("gpu")) is not None:
            up_by_place[(labels["node"], int(labels["gpu"]))] = sample.value >= 1
        elif stat == "info" and labels.get("uuid"):
            infos.append(labels)
        elif stat == "mig" and labels.get("uuid") and labels.get("mig_uuid"):
            migs.append(
                ObservedMig(
                    gpu_uuid=labels["uuid"],
                    mig_uuid=labels["mig_uuid"],
                    profile=labels.get("profile", ""),
                    gpu_instance_id=_int(labels.get("gpu_instance_id")),
                    compute_instance_id=_int(labels.get("compute_instance_id")),
                )
            )
    gpus: dict[str, ReportedGpu] = {}
    for labels in infos:
        index = _int(labels.get("gpu"))
        node = labels.get("node")
        if index is None or not node:
            continue
        uuid = labels["uuid"]
        gpus[uuid] = ReportedGpu(
            node_name=node,
            device_index=index,
            gpu_uuid=uuid,
            product_name=labels.get("model_name", ""),
            serial_number=labels.get("serial") or None,
            pci_address=labels.get("pci_bus_id") or None,
            driver_version=labels.get("driver_version") or None,
            firmware_version=labels.get("vbios_version") or None,
            up=up.get(uuid),
        )
    ordered = sorted(gpus.values(), key=lambda g: (g.node_name, g.device_index))
    migs.sort(key=lambda m: (m.gpu_uuid, m.gpu_instance_id or 0))
    return ordered, migs, up_by_place


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _sorted(nodes: Sequence[str] | None) -> list[str] | None:
    return sorted(set(nodes)) if nodes is not None else None


def sync_schedule(sync: InventorySync, interval_seconds: int) -> Periodic:
    """The periodic job of a worker that runs the sync when it is due: every worker polls
    (often enough that the interval is kept, not so often that idle workers churn); the lease
    and the last finish time decide who runs."""
    poll = max(1.0, min(15.0, interval_seconds / 4)) if interval_seconds > 0 else 0.0
    return Periodic(
        "inventory-sync", sync.run_if_due, poll, expected=(MetricsUnavailable,), first_after_s=0
    )
