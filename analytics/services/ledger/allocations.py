"""Allocation use cases: allocate (single and batch), release, list, expiring, cost statistics."""

from __future__ import annotations

import dataclasses
import secrets
import string
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from analytics.clock import Clock
from analytics.errors import (
    AllocationFailed,
    AnalyticsError,
    CostLimitExceeded,
    GpuNotAvailable,
    InsufficientResources,
    ResourceNotFound,
    ValidationFailed,
)
from analytics.paging import Page, PageRequest, paged
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.events import EventSink, EventType
from analytics.services.kernel.pricing import hourly_price
from analytics.services.ledger.expiry import accrued_cost, expire_due, hours_between
from analytics.services.ledger.fit import Demand, choose, represented
from analytics.settings import MigPricing
from analytics.store import allocations as allocation_store
from analytics.store import mig as mig_store
from analytics.store.allocations import AllocationRecord, Candidate, ResourceTaken
from analytics.store.db import Database
from gpucatalog.placement import Placement, on_demand_layout, on_demand_profile, resource_name

T = TypeVar("T")
_ID_ALPHABET = string.ascii_uppercase + string.digits
_CONFLICT_RETRIES = 5
UNASSIGNED = "unassigned"


def new_allocation_id() -> str:
    return "ALLOC-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class LayoutCarver(Protocol):
    """Changes MIG layouts through the declarative path (the inventory's MigService, injected
    by the app: the ledger imports no other area)."""

    def carve_in(
        self,
        conn: Any,
        device_id: str,
        placements: Sequence[Placement],
        now: datetime,
        actor: str | None,
    ) -> list[str]:
        """``placements`` become the desired layout of the empty GPU ``device_id`` in the
        caller's transaction; the new instance ids, in the order of ``placements``."""
        ...

    def publish(self, node_names: Sequence[str]) -> None:
        """Hand the nodes' desired layouts to the cluster, after the commit."""
        ...


@dataclass(frozen=True)
class AllocationRequest:
    namespace: str
    pod_name: str
    required_memory_gb: float
    use_mig: bool = False
    container_name: str | None = None
    workload_type: str | None = None
    preferred_model_id: str | None = None
    planned_release_time: datetime | None = None
    user_id: str | None = None
    team_id: str | None = None
    project_id: str | None = None
    max_cost_per_hour: float | None = None


@dataclass(frozen=True)
class AllocationView:
    allocation_id: str
    namespace: str
    pod_name: str
    container_name: str | None
    workload_type: str | None
    resource_type: str
    allocated_resource: str
    device_id: str
    node_name: str
    model_id: str
    mig_profile: str | None
    required_memory_gb: float
    allocated_memory_gb: float
    allocation_time: datetime
    planned_release_time: datetime | None
    release_time: datetime | None
    status: str
    cost_per_hour: float
    cost_accrued: float
    max_cost_per_hour: float | None
    user_id: str | None
    team_id: str | None
    project_id: str | None
    batch_id: str | None
    resource_state: str
    kubernetes: dict[str, Any]
    history: list[dict[str, Any]] | None = None


class AllocationService:
    def __init__(
        self,
        database: Database,
        catalogue: Catalogue,
        clock: Clock,
        pricing: MigPricing,
        events: EventSink | None = None,
        carver: LayoutCarver | None = None,
    ) -> None:
        self._db = database
        self._catalogue = catalogue
        self._clock = clock
        self._pricing = pricing
        # ALLOCATION_FAILED and ALLOCATION_EXPIRED events (docs/webhooks.md); None: none.
        self._events = events
        # MIG on demand: carves an idle MIG-capable GPU when no free instance fits; None: off.
        self._carver = carver

    # -- writes ---------------------------------------------------------------------------

    def allocate(self, request: AllocationRequest, actor: str | None) -> AllocationView:
        self._check(request)

        carved: list[str] = []

        def run(conn: Any) -> AllocationView:
            # Read the clock under the write lock, so ledger times follow commit order.
            now = self._clock.now()
            carved.clear()  # a retried transaction carves again, or not
            expire_due(conn, now, actor, self._events)
            return self._allocate_one(conn, request, now, actor, None, set(), carved)

        try:
            view = self._with_conflict_retries(run)
        except (InsufficientResources, AllocationFailed, GpuNotAvailable, CostLimitExceeded) as exc:
            self._record_failure([request], exc)
            raise
        self._publish(carved)
        return view

    def allocate_batch(
        self, requests: Sequence[AllocationRequest], actor: str | None
    ) -> list[AllocationView]:
        """All or nothing: one transaction; the first request that cannot be met rolls back all."""
        for request in requests:
            self._check(request)
        batch_id = "BATCH-" + new_allocation_id().removeprefix("ALLOC-")
        carved: list[str] = []

        def run(conn: Any) -> list[AllocationView]:
            now = self._clock.now()
            carved.clear()
            expire_due(conn, now, actor, self._events)
            taken: set[str] = set()
            views = []
            for index, request in enumerate(requests):
                try:
                    view = self._allocate_one(conn, request, now, actor, batch_id, taken, carved)
                except AnalyticsError as exc:
                    exc.message = f"allocations[{index}]: {exc.message} Nothing was allocated."
                    exc.details = {"index": index, "podName": request.pod_name, **_dict(exc)}
                    raise
                taken.add(view.allocated_resource)
                views.append(view)
            return views

        try:
            views = self._with_conflict_retries(run)
        except (InsufficientResources, AllocationFailed, GpuNotAvailable, CostLimitExceeded) as exc:
            self._record_failure(requests, exc, batch_id)
            raise
        self._publish(carved)
        return views

    def _publish(self, node_names: Sequence[str]) -> None:
        if node_names and self._carver is not None:
            self._carver.publish(node_names)

    def release(self, allocation_id: str, actor: str | None) -> AllocationView:
        """End an allocation; releasing one that already ended returns it unchanged."""

        def run(conn: Any) -> AllocationView:
            now = self._clock.now()
            expire_due(conn, now, actor, self._events)
            record = allocation_store.get_allocation(conn, allocation_id)
            if record is None:
                raise _not_found(allocation_id)
            if record.status == "ALLOCATED":
                cost = accrued_cost(record.cost_per_hour, record.allocation_time, now)
                allocation_store.end_allocation(conn, record, "RELEASED", now, cost, actor)
                record = dataclasses.replace(
                    record, status="RELEASED", release_time=now, cost_accrued=cost
                )
            return self._views(conn, [record], now)[0]

        return self._db.write(run)

    # -- reads ----------------------------------------------------------------------------

    def get(self, allocation_id: str) -> AllocationView:
        now = self._clock.now()
        with self._db.read() as conn:
            record = allocation_store.get_allocation(conn, allocation_id)
            if record is None:
                raise _not_found(allocation_id)
            view = self._views(conn, [record], now)[0]
            history = [
                {"status": e.status, "at": e.at, "actor": e.actor}
                for e in allocation_store.events(conn, allocation_id)
            ]
        if view.status == "EXPIRED" and record.status == "ALLOCATED":
            history.append(
                {"status": "EXPIRED", "at": record.planned_release_time, "actor": "expiry"}
            )
        return dataclasses.replace(view, history=history)

    def list_allocations(
        self,
        *,
        namespace: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        status: str = "ALLOCATED",
        page: PageRequest | None = None,
    ) -> list[AllocationView] | Page[list[AllocationView]]:
        """By allocation time, then id. ALLOCATED and ALL are paged in SQL; the other statuses
        depend on the clock (an ALLOCATED row past its planned release is EXPIRED), so they
        are filtered and paged here."""
        now = self._clock.now()
        filters = {"namespace": namespace, "user_id": user_id, "team_id": team_id}
        active_only = status == "ALLOCATED"
        with self._db.read() as conn:
            if page is not None and status in ("ALLOCATED", "ALL"):
                records, total = allocation_store.page_allocations(
                    conn, now, page, active_only=active_only, filters=filters
                )
                return Page(self._views(conn, records, now), page, total)
            records = allocation_store.list_allocations(
                conn, now, active_only=active_only, filters=filters
            )
            views = self._views(conn, records, now)
        if status not in ("ALLOCATED", "ALL"):
            views = [v for v in views if v.status == status]
        return paged(views, page)

    def expiring(self, hours: int) -> list[AllocationView]:
        """By planned release time, then id."""
        now = self._clock.now()
        with self._db.read() as conn:
            records = allocation_store.list_allocations(
                conn, now, active_only=True, planned_before=now + timedelta(hours=hours)
            )
            views = self._views(conn, records, now)
        return sorted(views, key=lambda v: (v.planned_release_time or now, v.allocation_id))

    def cost_statistics(self, days: int | None) -> dict[str, Any]:
        """Cost of the ledger: ended allocations at their settled cost, live ones until now.

        With ``days``, only the part of each allocation inside the last ``days`` days counts.
        """
        now = self._clock.now()
        since = now - timedelta(days=days) if days else None
        with self._db.read() as conn:
            records = allocation_store.list_allocations(
                conn, now, active_only=False, overlapping_since=since
            )
        groups: dict[str, dict[str, float]] = {
            key: defaultdict(float) for key in ("team", "namespace", "user", "model")
        }
        total = gpu_hours = hourly = 0.0
        active = 0
        for record in records:
            end = _end_time(record, now)
            start = max(record.allocation_time, since) if since else record.allocation_time
            hours = hours_between(start, end)
            cost = record.cost_per_hour * hours
            total += cost
            gpu_hours += hours
            if _effective_status(record, now) == "ALLOCATED":
                active += 1
                hourly += record.cost_per_hour
            groups["team"][record.team_id or UNASSIGNED] += cost
            groups["namespace"][record.namespace] += cost
            groups["user"][record.user_id or UNASSIGNED] += cost
            groups["model"][record.model_id] += cost
        return {
            "window_days": days,
            "since": since,
            "until": now,
            "total_cost": round(total, 2),
            "total_allocations": len(records),
            "active_allocations": active,
            "current_hourly_cost": round(hourly, 4),
            "allocated_hours": round(gpu_hours, 2),
            "average_cost_per_allocation": round(total / len(records), 2) if records else 0.0,
            "cost_by_team": _rounded(groups["team"]),
            "cost_by_namespace": _rounded(groups["namespace"]),
            "cost_by_user": _rounded(groups["user"]),
            "cost_by_model": _rounded(groups["model"]),
        }

    # -- internals ------------------------------------------------------------------------

    def _check(self, request: AllocationRequest) -> None:
        if request.preferred_model_id is not None:
            self._catalogue.model(request.preferred_model_id)
        now = self._clock.now()
        if request.planned_release_time is not None and request.planned_release_time <= now:
            raise ValidationFailed(
                "plannedReleaseTime must be in the future.",
                {"plannedReleaseTime": ["Must be later than the current time."]},
            )

    def _record_failure(
        self,
        requests: Sequence[AllocationRequest],
        exc: AnalyticsError,
        batch_id: str | None = None,
    ) -> None:
        """ALLOCATION_FAILED, in its own transaction (the request's own was rolled back)."""
        if self._events is None:
            return
        index = exc.details.get("index") if isinstance(exc.details, dict) else None
        request = requests[index] if isinstance(index, int) else requests[0]
        self._events.record(
            EventType.ALLOCATION_FAILED,
            {
                "namespace": request.namespace,
                "podName": request.pod_name,
                "workloadType": request.workload_type,
                "requiredMemoryGb": request.required_memory_gb,
                "useMig": request.use_mig,
                "preferredModelId": request.preferred_model_id,
                "teamId": request.team_id,
                "userId": request.user_id,
                "batchId": batch_id,
                "errorCode": exc.code,
                "reason": exc.message,
                "severity": "WARNING",
            },
        )

    def _with_conflict_retries(self, run: Callable[[Any], T]) -> T:
        # Writers are serialised on both backends (SQLite's BEGIN IMMEDIATE, PostgreSQL's
        # advisory transaction lock), so a conflict should not happen; should a writer outside
        # this service race us, the unique index refuses the second and it chooses again.
        for _ in range(_CONFLICT_RETRIES):
            try:
                return self._db.write(run)
            except ResourceTaken:
                continue
        raise AllocationFailed(
            "The resource was taken by concurrent requests; try again.",
            {"retries": _CONFLICT_RETRIES},
        )

    def _allocate_one(
        self,
        conn: Any,
        request: AllocationRequest,
        now: datetime,
        actor: str | None,
        batch_id: str | None,
        taken: set[str],
        carved: list[str],
    ) -> AllocationView:
        """``carved``: the nodes whose MIG layout this allocation changed (MIG on demand)."""
        requester = (request.namespace, request.pod_name)
        offered = self._candidates(conn, now, request.use_mig, requester, taken_too=False)
        # What the requesting pod already holds (the exporter's attribution), and what nobody
        # holds. A resource another pod holds is in neither: the device plugin has given it
        # away, so reserving it would be a fiction.
        own = [c for c in offered if c.held_by_requester and c.resource_id not in taken]
        candidates = [c for c in offered if not c.held_by_requester and c.resource_id not in taken]
        price_of = self._price
        mig_capable = self._mig_capable

        demand = Demand(
            request.required_memory_gb,
            request.use_mig,
            request.preferred_model_id,
            request.max_cost_per_hour,
        )
        try:
            try:
                # What the pod already holds first: the ledger then records what Kubernetes did.
                chosen, price = choose(own, demand, price_of, mig_capable)
            except (InsufficientResources, CostLimitExceeded):
                chosen, price = choose(candidates, demand, price_of, mig_capable)
        except CostLimitExceeded as exc:
            raise self._busy_within_limit(conn, now, demand, requester, exc) from None
        except InsufficientResources as exc:
            on_demand = self._carve(conn, demand, now, actor) if request.use_mig else None
            if on_demand is None:
                if request.use_mig:
                    _dict(exc)["hint"] = (
                        "No free MIG instance fits and no idle MIG-capable GPU (no allocation, "
                        "no pod) can be carved for it: release one, create a layout with "
                        "POST /gpu/mig/devices/{deviceId}, or ask for a whole GPU with "
                        "useMig=false."
                    )
                raise
            chosen, price = on_demand
            carved.append(chosen.node_name)
        allocation_id = new_allocation_id()
        values: dict[str, Any] = {
            "allocation_id": allocation_id,
            "resource_type": chosen.resource_type,
            "resource_id": chosen.resource_id,
            "device_id": chosen.device_id,
            "node_name": chosen.node_name,
            "model_id": chosen.model_id,
            "mig_profile": chosen.mig_profile,
            "namespace": request.namespace,
            "pod_name": request.pod_name,
            "container_name": request.container_name,
            "workload_type": request.workload_type,
            "user_id": request.user_id,
            "team_id": request.team_id,
            "project_id": request.project_id,
            "batch_id": batch_id,
            "required_memory_gb": request.required_memory_gb,
            "allocated_memory_gb": chosen.memory_gb,
            "cost_per_hour": price,
            "max_cost_per_hour": request.max_cost_per_hour,
            "status": "ALLOCATED",
            "allocation_time": now,
            "planned_release_time": request.planned_release_time,
        }
        allocation_store.insert_allocation(conn, values, actor, now)
        record = AllocationRecord(**values, release_time=None, cost_accrued=None)
        return self._view(record, now, observed=chosen.observed)

    def _carve(
        self, conn: Any, demand: Demand, now: datetime, actor: str | None
    ) -> tuple[Candidate, float] | None:
        """MIG on demand: when no free instance fits, lay out an idle MIG-capable GPU (no MIG
        layout, no live allocation, no pod holding it: allocation_store.idle_gpu) around the
        smallest profile that holds the request (gpucatalog.placement.on_demand_profile), the
        rest of the GPU in further instances (on_demand_layout), through the same declarative
        path as POST /gpu/mig/devices/{deviceId}; the allocation takes the first instance, still
        PENDING. Which GPU: the order of fit.choose (preferred model, best fit, price). None when
        off or when no idle GPU has such a profile; COST_LIMIT_EXCEEDED when each costs more
        than the limit."""
        if self._carver is None:
            return None
        options: list[Candidate] = []
        for model_id, model in sorted(self._catalogue.models.items()):
            if not model.mig_support:
                continue
            profile = on_demand_profile(model_id, demand.required_memory_gb)
            if profile is None:
                continue
            gpu = allocation_store.idle_gpu(conn, now, model_id)
            if gpu is None:
                continue
            options.append(
                Candidate(
                    "MIG_INSTANCE",
                    f"{gpu.device_id} (new {profile.name})",
                    gpu.device_id,
                    gpu.node_name,
                    gpu.device_index,
                    model_id,
                    profile.memory_gb,
                    profile.name,
                    profile.compute_slices,
                    profile.memory_slices,
                    False,
                    price_override=gpu.price_override,
                )
            )
        try:
            # COST_LIMIT_EXCEEDED (422) goes to the caller: a slice could be carved, but
            # every one costs more than maxCostPerHour.
            chosen, price = choose(options, demand, self._price)
        except InsufficientResources:
            return None
        assert chosen.mig_profile is not None
        placements = on_demand_layout(chosen.model_id, chosen.mig_profile)
        instance_ids = self._carver.carve_in(conn, chosen.device_id, placements, now, actor)
        return dataclasses.replace(chosen, resource_id=instance_ids[0]), price

    def _candidates(
        self,
        conn: Any,
        now: datetime,
        use_mig: bool,
        requester: tuple[str, str],
        *,
        taken_too: bool,
    ) -> list[Candidate]:
        if use_mig:
            return allocation_store.free_mig_instances(conn, now, requester, taken_too=taken_too)
        memory_gb = self._catalogue.memory_gb
        return allocation_store.free_devices(conn, now, memory_gb, requester, taken_too=taken_too)

    def _busy_within_limit(
        self,
        conn: Any,
        now: datetime,
        demand: Demand,
        requester: tuple[str, str],
        refusal: CostLimitExceeded,
    ) -> AnalyticsError:
        """Everything free costs more than the limit. When a resource that fits the memory and
        the limit exists but is taken (a race lost to another request, say), the request can
        succeed once it is released: 409 GPU_NOT_AVAILABLE. Else 422 COST_LIMIT_EXCEEDED, as
        ``refusal`` says (docs/analytics.md, "Errors")."""
        limit = demand.max_cost_per_hour
        assert limit is not None
        in_use = represented(
            [
                c
                for c in self._candidates(conn, now, demand.use_mig, requester, taken_too=True)
                if c.memory_gb >= demand.required_memory_gb and self._price(c) <= limit
            ]
        )
        if not in_use:
            return refusal
        kind = "MIG instance" if demand.use_mig else "GPU"
        return GpuNotAvailable(
            f"Every {kind} with {demand.required_memory_gb:g} GB within ${limit:g}/hour is in "
            f"use ({in_use}); the free ones cost more. Try again once one is released, or "
            "raise maxCostPerHour.",
            {**_dict(refusal), "inUseWithinLimit": in_use},
        )

    def _mig_capable(self, model_id: str) -> bool:
        model = self._catalogue.find(model_id)
        return model is not None and model.mig_support

    def _price(self, candidate: Candidate) -> float:
        """USD per hour: a price set through the API (the price book) wins over the
        catalogue's, at once."""
        model_price = (
            candidate.price_override
            if candidate.price_override is not None
            else self._catalogue.model(candidate.model_id).price_per_hour
        )
        return hourly_price(
            model_price,
            candidate.model_id,
            candidate.compute_slices,
            candidate.memory_slices,
            self._pricing,
        )

    def _views(
        self, conn: Any, records: Sequence[AllocationRecord], now: datetime
    ) -> list[AllocationView]:
        observed = {}
        if any(r.resource_type == "MIG_INSTANCE" for r in records):
            observed = {i.instance_id: i.observed for i in mig_store.instances(conn, now)}
        return [self._view(r, now, observed.get(r.resource_id, True)) for r in records]

    def _view(self, record: AllocationRecord, now: datetime, observed: bool) -> AllocationView:
        status = _effective_status(record, now)
        end = _end_time(record, now)
        cost = (
            record.cost_accrued
            if record.cost_accrued is not None
            else accrued_cost(record.cost_per_hour, record.allocation_time, end)
        )
        is_mig = record.resource_type == "MIG_INSTANCE"
        pending = is_mig and not observed and status == "ALLOCATED"
        kubernetes: dict[str, Any] = {
            "node_selector": {"kubernetes.io/hostname": record.node_name},
            "resource_name": (
                resource_name(record.mig_profile)
                if is_mig and record.mig_profile
                else "nvidia.com/gpu"
            ),
            "resource_count": 1,
            "ready": not pending,
        }
        if pending:
            kubernetes["note"] = (
                "The MIG instance is in the desired layout but not yet reported by the exporter; "
                "pods requesting it stay Pending until the GPU operator has applied the layout."
            )
        return AllocationView(
            allocation_id=record.allocation_id,
            namespace=record.namespace,
            pod_name=record.pod_name,
            container_name=record.container_name,
            workload_type=record.workload_type,
            resource_type=record.resource_type,
            allocated_resource=record.resource_id,
            device_id=record.device_id,
            node_name=record.node_name,
            model_id=record.model_id,
            mig_profile=record.mig_profile,
            required_memory_gb=record.required_memory_gb,
            allocated_memory_gb=record.allocated_memory_gb,
            allocation_time=record.allocation_time,
            planned_release_time=record.planned_release_time,
            release_time=record.release_time or (end if status == "EXPIRED" else None),
            status=status,
            cost_per_hour=record.cost_per_hour,
            cost_accrued=cost,
            max_cost_per_hour=record.max_cost_per_hour,
            user_id=record.user_id,
            team_id=record.team_id,
            project_id=record.project_id,
            batch_id=record.batch_id,
            resource_state="PENDING" if pending else "READY",
            kubernetes=kubernetes,
        )


def _effective_status(record: AllocationRecord, now: datetime) -> str:
    if (
        record.status == "ALLOCATED"
        and record.planned_release_time is not None
        and record.planned_release_time <= now
    ):
        return "EXPIRED"
    return record.status


def _end_time(record: AllocationRecord, now: datetime) -> datetime:
    if record.release_time is not None:
        return record.release_time
    if _effective_status(record, now) == "EXPIRED" and record.planned_release_time is not None:
        return record.planned_release_time
    return now


def _dict(exc: AnalyticsError) -> dict[str, Any]:
    """The error's structured data (the envelope's ``context``), to extend in place."""
    if exc.context is None:
        exc.context = {}
    return exc.context


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in sorted(values.items(), key=lambda kv: -kv[1])}


def _not_found(allocation_id: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Allocation {allocation_id} not found.", {"allocationId": allocation_id}
    )
