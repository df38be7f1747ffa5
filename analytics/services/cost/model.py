"""The cost of a window, from usage (Prometheus), prices (the book) and owners (ledger, labels).

Pure: takes records, returns a :class:`CostReport`. Every pod's cost is the sum over the units
it held (a whole GPU, or a MIG instance) of unit price x its share-weighted hours held; the
unit price of a MIG instance is its GPU's price x the instance's share (cost_split). A pod's
team, user and project come from the ledger allocation for that namespace and pod that
overlaps the window or was made since (the latest, if several; each field separately), else
from its pod labels, else ``unassigned``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from analytics.services.cost.split import LayoutShares, Split, layout_shares, split_device
from analytics.services.cost.usage import DeviceUsage, PodUnitUsage, Usage, Window
from analytics.services.kernel.pricebook import DevicePrice, ModelPrice, PriceBook
from analytics.settings import MigPricing
from analytics.store.allocations import AllocationRecord
from gpucatalog import model_for_product_name

UNASSIGNED = "unassigned"
OWNER_ROLES = ("team", "user", "project")


@dataclass(frozen=True)
class DeviceCost:
    device_id: str
    uuid: str
    node: str
    model_id: str
    price: DevicePrice
    hours: float
    split: Split
    usage: DeviceUsage
    layout: LayoutShares | None


@dataclass(frozen=True)
class UnitCost:
    device_id: str
    uuid: str
    mig_uuid: str
    profile: str | None
    model_id: str
    share: float  # of the GPU
    price_per_hour: float  # of the unit
    held_hours: float  # share-weighted
    idle_hours: float
    cost: float
    idle_cost: float
    memory_peak_bytes: float | None


@dataclass
class PodCost:
    namespace: str
    pod: str
    owners: dict[str, str]
    owner_source: dict[str, str]  # role -> "ledger" | "label" | "none"
    units: list[UnitCost] = field(default_factory=list)

    @property
    def cost(self) -> float:
        return sum(u.cost for u in self.units)

    @property
    def idle_cost(self) -> float:
        return sum(u.idle_cost for u in self.units)

    @property
    def gpu_hours(self) -> float:
        """GPU-equivalent hours: unit hours x the unit's share of its GPU."""
        return sum(u.held_hours * u.share for u in self.units)


@dataclass(frozen=True)
class CostReport:
    window: Window
    devices: list[DeviceCost]
    pods: list[PodCost]
    unrecognized: list[str]  # uuids whose product name is not in the catalogue
    mig_pricing: MigPricing

    @property
    def split(self) -> Split:
        total = Split()
        for device in self.devices:
            total = total + device.split
        return total

    @property
    def attributed_cost(self) -> float:
        return sum(p.cost for p in self.pods)

    def cost_by(self, role: str) -> dict[str, float]:
        """Attributed cost by ``namespace``, ``model`` or an owner role (team/user/project)."""
        totals: dict[str, float] = defaultdict(float)
        for pod in self.pods:
            if role == "namespace":
                totals[pod.namespace] += pod.cost
            elif role == "model":
                for unit in pod.units:
                    totals[unit.model_id] += unit.cost
            else:
                totals[pod.owners[role]] += pod.cost
        return dict(totals)

    def fleet_cost_by_model(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for device in self.devices:
            totals[device.model_id] += device.split.total
        return dict(totals)

    def device(self, uuid: str) -> DeviceCost | None:
        for device in self.devices:
            if device.uuid == uuid:
                return device
        return None


def build_report(
    usage: Usage,
    book: Mapping[str, ModelPrice],
    price_book: PriceBook,
    purchase_costs: Mapping[str, float],
    ledger: list[AllocationRecord],
) -> CostReport:
    window = usage.window
    devices: dict[str, DeviceCost] = {}
    unrecognized: list[str] = []
    for uuid, device in sorted(usage.devices.items(), key=lambda kv: kv[1].device_id):
        model = model_for_product_name(device.product_name)
        if model is None:
            unrecognized.append(uuid)
            continue
        purchase = purchase_costs.get(uuid) or purchase_costs.get(device.device_id)
        price = price_book.device_price(dict(book), model.model_id, purchase)
        layout = None
        if device.mig:
            layout = layout_shares(
                model.model_id, list(device.mig.values()), price_book.mig_pricing
            )
        devices[uuid] = DeviceCost(
            device_id=device.device_id,
            uuid=uuid,
            node=device.node,
            model_id=model.model_id,
            price=price,
            hours=device.present_steps * window.step_hours,
            split=split_device(device, price.price_per_hour, window.step_hours, layout),
            usage=device,
            layout=layout,
        )
    owners = _ledger_owners(ledger)
    pods: dict[tuple[str, str], PodCost] = {}
    for unit in usage.pods.values():
        device_cost = devices.get(unit.uuid)
        if device_cost is None:
            continue
        key = (unit.namespace, unit.pod)
        pod = pods.get(key)
        if pod is None:
            pod = _pod(key, owners.get(key), usage.owners.get(key, {}))
            pods[key] = pod
        pod.units.append(_unit_cost(unit, device_cost, window))
    ordered = sorted(pods.values(), key=lambda p: (-p.cost, p.namespace, p.pod))
    return CostReport(window, list(devices.values()), ordered, unrecognized, price_book.mig_pricing)


def _unit_cost(unit: PodUnitUsage, device: DeviceCost, window: Window) -> UnitCost:
    share, profile = 1.0, None
    if unit.mig_uuid:
        layout = device.layout
        share = layout.instance_shares.get(unit.mig_uuid, 0.0) if layout else 0.0
        instance = device.usage.mig.get(unit.mig_uuid)
        profile = instance.profile if instance else None
    price = device.price.price_per_hour * share
    held_hours = unit.held_steps * window.step_hours
    idle_hours = unit.idle_steps * window.step_hours
    return UnitCost(
        device_id=device.device_id,
        uuid=unit.uuid,
        mig_uuid=unit.mig_uuid,
        profile=profile,
        model_id=device.model_id,
        share=share,
        price_per_hour=price,
        held_hours=held_hours,
        idle_hours=idle_hours,
        cost=price * held_hours,
        idle_cost=price * idle_hours,
        memory_peak_bytes=unit.memory_peak_bytes,
    )


def _ledger_owners(ledger: list[AllocationRecord]) -> dict[tuple[str, str], AllocationRecord]:
    latest: dict[tuple[str, str], AllocationRecord] = {}
    for record in sorted(ledger, key=lambda r: (r.allocation_time, r.allocation_id)):
        latest[(record.namespace, record.pod_name)] = record
    return latest


def _pod(
    key: tuple[str, str], record: AllocationRecord | None, labels: Mapping[str, str]
) -> PodCost:
    from_ledger = {
        "team": record.team_id if record else None,
        "user": record.user_id if record else None,
        "project": record.project_id if record else None,
    }
    owners: dict[str, str] = {}
    source: dict[str, str] = {}
    for role in OWNER_ROLES:
        if from_ledger[role]:
            owners[role], source[role] = str(from_ledger[role]), "ledger"
        elif labels.get(role):
            owners[role], source[role] = labels[role], "label"
        else:
            owners[role], source[role] = UNASSIGNED, "none"
    return PodCost(key[0], key[1], owners, source)
