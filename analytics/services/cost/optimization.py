"""Cost optimisation suggestions from a cost report: each names its evidence and a monthly USD
estimate. Pure: takes the report, the ledger and what pods hold now; returns plain dicts.

Rules, in the order they claim a GPU (a GPU or MIG instance gets at most one of the first four,
so estimates never count the same hardware twice):

``IDLE_ALLOCATED_GPU``   a pod has held a whole GPU (or a MIG instance) for at least
                         ``IDLE_MIN_HOURS`` of the window and it was idle in at least
                         ``IDLE_MIN_FRACTION`` of those hours. Saving: its price while held.
``MIG_RIGHTSIZE``        one pod holds a whole MIG-capable GPU, and a MIG profile of that model
                         has memory for the pod's peak x ``MEMORY_HEADROOM`` and a compute share
                         at least the GPU's mean utilisation. The smallest such profile is named.
                         Saving: price x (1 - the profile's share).
``CONSOLIDATE_GPUS``     two lightly used GPUs of one model (mean utilisation below
                         ``LIGHT_UTILIZATION`` each, at most ``PAIR_UTILIZATION`` together, peak
                         memory fitting one GPU with 10 % to spare): one can take both
                         workloads (time-slicing or MPS). Saving: the freed GPU's price.
``CHEAPER_MODEL``        one pod on a whole GPU at most ``CHEAPER_MAX_UTILIZATION`` busy whose
                         peak memory x headroom fits a cheaper model present in the fleet.
                         Saving: the price difference.
``PAST_PLANNED_RELEASE`` a ledger allocation whose planned release has passed (it expired; it
                         was not released) while its pod still holds GPUs. Saving: the price of
                         what the pod holds.
``STRANDED_MIG_SLICES``  a MIG layout leaves slices no profile can use (cost_split). Saving:
                         the stranded share of the GPU's price.

Monthly estimates use 730 hours (a year / 12) and scale by the fraction of the window the
hardware was held, so a GPU held half the time saves half.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.clock import format_utc
from analytics.services.cost.model import CostReport, DeviceCost, PodCost, UnitCost
from analytics.services.cost.usage import GIB, Holding
from analytics.services.kernel.pricing import mig_share
from analytics.store.allocations import AllocationRecord
from gpucatalog import mig_profiles, model_by_id
from gpucatalog.mig import total_slices

HOURS_PER_MONTH = 730.0
IDLE_MIN_HOURS = 24.0
IDLE_MIN_FRACTION = 0.9
MEMORY_HEADROOM = 1.2
LIGHT_UTILIZATION = 0.3
PAIR_UTILIZATION = 0.8
CHEAPER_MAX_UTILIZATION = 0.3
PAST_RELEASE_LOOKBACK_DAYS = 30

IDLE = "IDLE_ALLOCATED_GPU"
MIG_RIGHTSIZE = "MIG_RIGHTSIZE"
CONSOLIDATE = "CONSOLIDATE_GPUS"
CHEAPER = "CHEAPER_MODEL"
PAST_RELEASE = "PAST_PLANNED_RELEASE"
STRANDED = "STRANDED_MIG_SLICES"
TYPES = (IDLE, MIG_RIGHTSIZE, CONSOLIDATE, CHEAPER, PAST_RELEASE, STRANDED)


@dataclass
class Suggestion:
    type: str
    title: str
    action: str
    monthly_savings: float
    device_ids: list[str]
    pods: list[str]
    evidence: dict[str, Any]
    # Hardware the estimate is for: (uuid, mig_uuid or "", what); estimates are added up once
    # per resource.
    resources: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.type}:{'+'.join(self.device_ids)}:{'+'.join(self.pods)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "action": self.action,
            "monthly_savings": round(self.monthly_savings, 2),
            "device_ids": self.device_ids,
            "pods": self.pods,
            "evidence": self.evidence,
        }


def suggest(
    report: CostReport,
    ledger: Sequence[AllocationRecord],
    holdings: Sequence[Holding],
    now: datetime,
) -> list[Suggestion]:
    claimed: set[tuple[str, str]] = set()
    suggestions: list[Suggestion] = []
    holders = _holders(report)
    for rule in (_idle, _mig_rightsize):
        for suggestion in rule(report, holders, claimed):
            claimed.update((uuid, mig) for uuid, mig, _ in suggestion.resources)
            suggestions.append(suggestion)
    for suggestion in _consolidate(report, holders, claimed):
        claimed.update((uuid, mig) for uuid, mig, _ in suggestion.resources)
        suggestions.append(suggestion)
    for suggestion in _cheaper(report, holders, claimed):
        claimed.update((uuid, mig) for uuid, mig, _ in suggestion.resources)
        suggestions.append(suggestion)
    suggestions.extend(_past_release(report, ledger, holdings, now))
    suggestions.extend(_stranded(report))
    return suggestions


def potential_savings(suggestions: Iterable[Suggestion]) -> float:
    """Monthly USD of all suggestions, each piece of hardware counted once."""
    counted: set[tuple[str, str, str]] = set()
    total = 0.0
    for suggestion in suggestions:
        keys = {(u, m, "stranded" if w == "stranded" else "") for u, m, w in suggestion.resources}
        if keys & counted:
            continue
        counted |= keys
        total += suggestion.monthly_savings
    return round(total, 2)


# -- rules ----------------------------------------------------------------------------------


def _holders(report: CostReport) -> dict[tuple[str, str], list[tuple[PodCost, UnitCost]]]:
    found: dict[tuple[str, str], list[tuple[PodCost, UnitCost]]] = {}
    for pod in report.pods:
        for unit in pod.units:
            found.setdefault((unit.uuid, unit.mig_uuid), []).append((pod, unit))
    return found


def _window(report: CostReport) -> dict[str, Any]:
    window = report.window
    return {
        "start": format_utc(window.start_time()),
        "end": format_utc(window.end_time()),
        "days": window.days,
        "resolutionSeconds": window.resolution_s,
    }


def _names(pods: Iterable[PodCost]) -> list[str]:
    return sorted({f"{p.namespace}/{p.pod}" for p in pods})


def _gb(value: float | None) -> float | None:
    return None if value is None else round(value / GIB, 2)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _held_fraction(report: CostReport, steps: float) -> float:
    return min(steps / report.window.steps, 1.0) if report.window.steps else 0.0


def _whole(device: DeviceCost) -> bool:
    return device.layout is None or not device.layout.instance_shares


def _idle(report: CostReport, holders: Any, claimed: set[tuple[str, str]]) -> list[Suggestion]:
    found = []
    hours = report.window.step_hours
    for device in report.devices:
        units: list[tuple[str, str | None, float, float, float]] = []
        if _whole(device):
            units.append(("", None, 1.0, device.usage.held_steps, device.usage.idle_steps))
        else:
            for mig_uuid, share in (device.layout.instance_shares if device.layout else {}).items():
                instance = device.usage.mig.get(mig_uuid)
                if instance is not None:
                    units.append(
                        (
                            mig_uuid,
                            instance.profile,
                            share,
                            instance.held_steps,
                            instance.idle_steps,
                        )
                    )
        for mig_uuid, profile, share, held, idle in units:
            held_hours, idle_hours = held * hours, idle * hours
            if held_hours < IDLE_MIN_HOURS or idle < IDLE_MIN_FRACTION * held:
                continue
            pods = [pod for pod, _unit in holders.get((device.uuid, mig_uuid), [])]
            price = device.price.price_per_hour * share
            what = f"MIG instance {profile} on {device.device_id}" if mig_uuid else device.device_id
            evidence: dict[str, Any] = {
                "window": _window(report),
                "deviceId": device.device_id,
                "node": device.node,
                "modelId": device.model_id,
                "gpuUuid": device.uuid,
                "heldHours": round(held_hours, 2),
                "idleHours": round(idle_hours, 2),
                "idleFraction": round(idle / held, 4),
                "pricePerHour": round(price, 4),
            }
            if mig_uuid:
                instance = device.usage.mig[mig_uuid]
                source = instance.utilization_source
                evidence.update(
                    {
                        "migUuid": mig_uuid,
                        "profile": profile,
                        # SM activity where the instance reports it, else its memory in use.
                        "idleRule": "utilization" if source else "memory in use",
                        "utilizationSource": source,
                        "utilizationMean": _round(instance.utilization_mean),
                        "utilizationPeak": _round(instance.utilization_peak),
                    }
                )
            else:
                evidence.update(
                    {
                        "utilizationMean": _round(device.usage.utilization_mean),
                        "utilizationPeak": _round(device.usage.utilization_peak),
                        "idleRule": "utilization",
                        "utilizationSource": device.usage.utilization_source,
                    }
                )
            found.append(
                Suggestion(
                    IDLE,
                    f"{what} is allocated but idle",
                    f"Release {what} (held by {', '.join(_names(pods)) or 'no known pod'}) "
                    "or give it work; it was idle "
                    f"{idle_hours:.0f} of the {held_hours:.0f} hours it was held.",
                    price * HOURS_PER_MONTH * _held_fraction(report, held),
                    [device.device_id],
                    _names(pods),
                    evidence,
                    [(device.uuid, mig_uuid, "held")],
                )
            )
    return found


def _single_holder(
    device: DeviceCost, holders: Any, claimed: set[tuple[str, str]]
) -> tuple[PodCost, UnitCost] | None:
    """The one pod holding the whole GPU, if exactly one does and no rule claimed it."""
    if not _whole(device) or (device.uuid, "") in claimed:
        return None
    found = holders.get((device.uuid, ""), [])
    return found[0] if len(found) == 1 else None


def _peak_memory(device: DeviceCost, unit: UnitCost) -> float | None:
    return unit.memory_peak_bytes if unit.memory_peak_bytes else device.usage.memory_peak_bytes


def _mig_rightsize(
    report: CostReport, holders: Any, claimed: set[tuple[str, str]]
) -> list[Suggestion]:
    found = []
    for device in report.devices:
        holder = _single_holder(device, holders, claimed)
        profiles = [p for p in mig_profiles(device.model_id) if not p.name.endswith("+me")]
        if holder is None or not profiles:
            continue
        pod, unit = holder
        peak = _peak_memory(device, unit)
        utilization = device.usage.utilization_mean
        if peak is None or utilization is None:
            continue
        total_compute, _memory = total_slices(device.model_id)
        fitting = [
            p
            for p in profiles
            if p.memory_gb * GIB >= peak * MEMORY_HEADROOM
            and p.compute_slices / total_compute >= utilization
        ]
        if not fitting:
            continue
        profile = min(fitting, key=lambda p: (p.compute_slices, p.memory_slices))
        if profile.compute_slices >= total_compute:
            continue
        share = mig_share(
            device.model_id, profile.compute_slices, profile.memory_slices, report.mig_pricing
        )
        price = device.price.price_per_hour
        held = _held_fraction(report, device.usage.held_steps)
        found.append(
            Suggestion(
                MIG_RIGHTSIZE,
                f"{pod.namespace}/{pod.pod} fits a {profile.name} MIG instance",
                f"Move {pod.namespace}/{pod.pod} from the whole {device.model_id} "
                f"{device.device_id} to a {profile.name} instance (request "
                f"{profile.resource_name}); its peak memory is {peak / GIB:.1f} GB and its "
                f"mean utilisation {utilization:.0%}.",
                price * (1.0 - share) * HOURS_PER_MONTH * held,
                [device.device_id],
                [f"{pod.namespace}/{pod.pod}"],
                {
                    "window": _window(report),
                    "deviceId": device.device_id,
                    "node": device.node,
                    "modelId": device.model_id,
                    "gpuUuid": device.uuid,
                    "memoryPeakGb": _gb(peak),
                    "memoryTotalGb": _gb(device.usage.memory_total_bytes),
                    "utilizationMean": _round(utilization),
                    "utilizationPeak": _round(device.usage.utilization_peak),
                    "utilizationSource": device.usage.utilization_source,
                    "profile": profile.name,
                    "profileMemoryGb": profile.memory_gb,
                    "profileComputeShare": round(profile.compute_slices / total_compute, 4),
                    "profileShare": round(share, 4),
                    "memoryHeadroom": MEMORY_HEADROOM,
                    "pricePerHour": round(price, 4),
                },
                [(device.uuid, "", "held")],
            )
        )
    return found


def _light(device: DeviceCost, report: CostReport) -> bool:
    utilization = device.usage.utilization_mean
    return (
        _whole(device)
        and utilization is not None
        and utilization < LIGHT_UTILIZATION
        and _held_fraction(report, device.usage.held_steps) >= 0.5
        and device.usage.memory_peak_bytes is not None
        and device.usage.memory_total_bytes is not None
    )


def _consolidate(
    report: CostReport, holders: Any, claimed: set[tuple[str, str]]
) -> list[Suggestion]:
    found = []
    by_model: dict[str, list[DeviceCost]] = {}
    for device in report.devices:
        if (device.uuid, "") not in claimed and _light(device, report):
            by_model.setdefault(device.model_id, []).append(device)
    for model_id, devices in sorted(by_model.items()):
        devices.sort(key=lambda d: (d.usage.utilization_mean or 0.0, d.device_id))
        used: set[str] = set()
        for keep in devices:
            if keep.uuid in used:
                continue
            for move in devices:
                if move.uuid == keep.uuid or move.uuid in used or keep.uuid in used:
                    continue
                together = (keep.usage.utilization_mean or 0.0) + (
                    move.usage.utilization_mean or 0.0
                )
                memory = (keep.usage.memory_peak_bytes or 0.0) + (
                    move.usage.memory_peak_bytes or 0.0
                )
                if together > PAIR_UTILIZATION or memory > 0.9 * (
                    keep.usage.memory_total_bytes or 0.0
                ):
                    continue
                used |= {keep.uuid, move.uuid}
                moving = [p for p, _u in holders.get((move.uuid, ""), [])]
                staying = [p for p, _u in holders.get((keep.uuid, ""), [])]
                found.append(
                    Suggestion(
                        CONSOLIDATE,
                        f"{move.device_id} and {keep.device_id} are lightly used",
                        f"Run the work of {move.device_id} ({', '.join(_names(moving))}) on "
                        f"{keep.device_id} (time-slicing or MPS) and free {move.device_id}.",
                        move.price.price_per_hour
                        * HOURS_PER_MONTH
                        * _held_fraction(report, move.usage.held_steps),
                        [move.device_id, keep.device_id],
                        _names([*moving, *staying]),
                        {
                            "window": _window(report),
                            "modelId": model_id,
                            "devices": [
                                {
                                    "deviceId": d.device_id,
                                    "utilizationMean": _round(d.usage.utilization_mean),
                                    "utilizationPeak": _round(d.usage.utilization_peak),
                                    "utilizationSource": d.usage.utilization_source,
                                    "memoryPeakGb": _gb(d.usage.memory_peak_bytes),
                                }
                                for d in (move, keep)
                            ],
                            "memoryTotalGb": _gb(keep.usage.memory_total_bytes),
                            "combinedUtilizationMean": round(together, 4),
                        },
                        [(move.uuid, "", "held"), (keep.uuid, "", "held")],
                    )
                )
    return found


def _cheaper(report: CostReport, holders: Any, claimed: set[tuple[str, str]]) -> list[Suggestion]:
    found = []
    present = {d.model_id: d.price.price_per_hour for d in report.devices}
    for device in report.devices:
        holder = _single_holder(device, holders, claimed)
        utilization = device.usage.utilization_mean
        if holder is None or utilization is None or utilization > CHEAPER_MAX_UTILIZATION:
            continue
        pod, unit = holder
        peak = _peak_memory(device, unit)
        if peak is None:
            continue
        price = device.price.price_per_hour
        options = [
            (other_price, model_id)
            for model_id, other_price in present.items()
            if other_price < price
            and model_by_id(model_id).memory_gb * GIB >= peak * MEMORY_HEADROOM
        ]
        if not options:
            continue
        cheaper_price, cheaper = min(options)
        found.append(
            Suggestion(
                CHEAPER,
                f"{pod.namespace}/{pod.pod} would fit a {cheaper}",
                f"Run {pod.namespace}/{pod.pod} on a {cheaper} ({cheaper_price:.2f} USD/h) "
                f"instead of the {device.model_id} {device.device_id} ({price:.2f} USD/h): "
                f"peak memory {peak / GIB:.1f} GB, mean utilisation {utilization:.0%}.",
                (price - cheaper_price)
                * HOURS_PER_MONTH
                * _held_fraction(report, device.usage.held_steps),
                [device.device_id],
                [f"{pod.namespace}/{pod.pod}"],
                {
                    "window": _window(report),
                    "deviceId": device.device_id,
                    "modelId": device.model_id,
                    "suggestedModelId": cheaper,
                    "pricePerHour": round(price, 4),
                    "suggestedPricePerHour": round(cheaper_price, 4),
                    "memoryPeakGb": _gb(peak),
                    "utilizationMean": _round(utilization),
                    "utilizationPeak": _round(device.usage.utilization_peak),
                    "utilizationSource": device.usage.utilization_source,
                },
                [(device.uuid, "", "held")],
            )
        )
    return found


def _past_release(
    report: CostReport,
    ledger: Sequence[AllocationRecord],
    holdings: Sequence[Holding],
    now: datetime,
) -> list[Suggestion]:
    held: dict[tuple[str, str], list[Holding]] = {}
    for holding in holdings:
        held.setdefault((holding.namespace, holding.pod), []).append(holding)
    found = []
    for record in ledger:
        planned = record.planned_release_time
        if (
            planned is None
            or planned > now
            or record.status == "RELEASED"
            or (now - planned).days > PAST_RELEASE_LOOKBACK_DAYS
        ):
            continue
        holding_now = held.get((record.namespace, record.pod_name), [])
        if not holding_now:
            continue
        units = []
        hourly = 0.0
        resources = []
        for h in holding_now:
            device = report.device(h.uuid)
            share = 1.0
            profile = None
            if h.mig_uuid and device is not None and device.layout is not None:
                share = device.layout.instance_shares.get(h.mig_uuid, 0.0)
                instance = device.usage.mig.get(h.mig_uuid)
                profile = instance.profile if instance else None
            price = (device.price.price_per_hour if device else 0.0) * share
            hourly += price
            resources.append((h.uuid, h.mig_uuid, "held"))
            units.append(
                {
                    "deviceId": h.device_id,
                    "migUuid": h.mig_uuid or None,
                    "profile": profile,
                    "pricePerHour": round(price, 4),
                }
            )
        overdue = (now - planned).total_seconds() / 3600.0
        pod = f"{record.namespace}/{record.pod_name}"
        found.append(
            Suggestion(
                PAST_RELEASE,
                f"{pod} runs past its planned release",
                f"Allocation {record.allocation_id} was planned to end at "
                f"{planned:%Y-%m-%dT%H:%M:%SZ} but {pod} still holds "
                f"{', '.join(sorted({h.device_id for h in holding_now}))}: stop the pod or "
                "allocate again with a later plannedReleaseTime.",
                hourly * HOURS_PER_MONTH,
                sorted({h.device_id for h in holding_now}),
                [pod],
                {
                    "allocationId": record.allocation_id,
                    "plannedReleaseTime": format_utc(planned),
                    "overdueHours": round(overdue, 4),
                    "ledgerStatus": "EXPIRED",
                    "allocationCostPerHour": record.cost_per_hour,
                    "teamId": record.team_id,
                    "userId": record.user_id,
                    "holding": units,
                    "costSincePlannedRelease": round(hourly * overdue, 4),
                    "observedAt": format_utc(now),
                },
                resources,
            )
        )
    return found


def _stranded(report: CostReport) -> list[Suggestion]:
    found = []
    for device in report.devices:
        layout = device.layout
        if layout is None or layout.stranded_share <= 0:
            continue
        price = device.price.price_per_hour
        fraction = _held_fraction(report, device.usage.present_steps)
        found.append(
            Suggestion(
                STRANDED,
                f"The MIG layout of {device.device_id} strands slices",
                f"The layout {', '.join(layout.placements)} leaves "
                f"{layout.stranded_compute_slices} compute and "
                f"{len(layout.stranded_memory_slices)} memory slice(s) that no MIG profile can "
                "use. Re-create it with profiles whose memory matches their compute (e.g. "
                "1g.10gb instead of 1g.20gb where the pods' memory allows) so that every slice "
                "can hold an instance.",
                price * layout.stranded_share * HOURS_PER_MONTH * fraction,
                [device.device_id],
                [],
                {
                    "window": _window(report),
                    "deviceId": device.device_id,
                    "node": device.node,
                    "modelId": device.model_id,
                    "gpuUuid": device.uuid,
                    "layout": layout.placements,
                    "strandedComputeSlices": layout.stranded_compute_slices,
                    "strandedMemorySlices": layout.stranded_memory_slices,
                    "freeComputeSlices": layout.free_compute_slices,
                    "freeMemorySlices": layout.free_memory_slices,
                    "strandedShare": round(layout.stranded_share, 4),
                    "migPricing": report.mig_pricing,
                    "strandedCostInWindow": round(device.split.stranded, 2),
                    "pricePerHour": round(price, 4),
                },
                [(device.uuid, "", "stranded")],
            )
        )
    return found
