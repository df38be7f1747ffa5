"""Ground truth for the cost tests, computed from the fleet YAML and published prices only.

Nothing here calls the code under test: prices are the catalogue's default list prices typed in
again below (not imported from gpucatalog), MIG compute slices are read from the profile name
("4g.40gb": 4 of 7), and who holds what is read from the YAML (pods that are not
Succeeded/Failed hold their devices for the whole history, or, with a ``schedule``, for the
hours of its windows inside it; pods sharing a device split it equally).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# USD per GPU-hour: the median of public on-demand offers, read 2026 (gpucatalog's defaults).
REFERENCE_PRICES = {
    "A100_40GB": 2.74,
    "A100_80GB": 2.29,
    "H100_80GB": 3.99,
    "H200_141GB": 5.00,
    "L4": 0.80,
    "RTX4090": 0.44,
}
COMPUTE_SLICES = 7
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def present(schedule: dict[str, Any] | None, midnight: float, t: float) -> bool:
    """Whether a pod with ``schedule`` (the YAML mapping) exists at ``t``; ``midnight`` is the
    fleet epoch's UTC midnight (unix seconds). The fleet header's rule, from the YAML alone."""
    if schedule is None:
        return True
    at, length = schedule.get("at_hour", 0) * 3600, schedule["for_hours"] * 3600
    if "every_hours" in schedule:
        return (t - midnight - at) % (schedule["every_hours"] * 3600) < length
    moment = dt.datetime.fromtimestamp(t, dt.UTC)
    for back in (0, 1):
        day = (moment - dt.timedelta(days=back)).date()
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() + at
        if WEEKDAYS[day.weekday()] in schedule["weekdays"] and start <= t < start + length:
            return True
    return False


def present_hours(schedule: dict[str, Any], midnight: float, start: float, end: float) -> float:
    """Hours of [start, end) in which the pod exists (schedule edges are whole minutes)."""
    first = int(start // 60) * 60
    minutes = sum(1 for t in range(first, int(end), 60) if present(schedule, midnight, t))
    return minutes / 60


@dataclass
class Unit:
    node: str
    gpu: int
    slot: int | None  # MIG slot, or None for the whole GPU
    model: str
    profile: str | None
    holders: list[tuple[str, str]] = field(default_factory=list)
    # A scheduled holder's (the fleet lets no other pod hold its devices): None = always held.
    schedule: dict[str, Any] | None = None

    @property
    def share(self) -> float:
        if self.profile is None:
            return 1.0
        return int(self.profile.split("g.")[0]) / COMPUTE_SLICES

    @property
    def price(self) -> float:
        return REFERENCE_PRICES[self.model] * self.share


@dataclass
class FleetTruth:
    gpus: dict[tuple[str, int], dict[str, Any]]
    units: dict[tuple[str, int, int | None], Unit]
    pods: dict[tuple[str, str], dict[str, Any]]
    midnight: float = 0.0  # the fleet epoch's UTC midnight

    def held_hours(self, unit: Unit, hours: float, end: float | None) -> float:
        """Hours ``unit`` is held in the ``hours`` before ``end`` (price x hours *present*)."""
        if unit.schedule is None:
            return hours
        if end is None:
            raise ValueError(f"{unit.holders[0]} is scheduled: say when the window ends")
        return present_hours(unit.schedule, self.midnight, end - hours * 3600, end)

    def pod_costs(self, hours: float, end: float | None = None) -> dict[tuple[str, str], float]:
        costs: dict[tuple[str, str], float] = defaultdict(float)
        for unit in self.units.values():
            for holder in unit.holders:
                costs[holder] += unit.price * self.held_hours(unit, hours, end) / len(unit.holders)
        return dict(costs)

    def cost_by(
        self,
        role: str,
        hours: float,
        owners: dict[tuple[str, str], str] | None = None,
        end: float | None = None,
    ) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for key, cost in self.pod_costs(hours, end).items():
            if role == "namespace":
                totals[key[0]] += cost
            else:
                label = (owners or {}).get(key) or self.pods[key]["labels"].get(role)
                totals[label or "unassigned"] += cost
        return dict(totals)

    def attributed_by_model(self, hours: float, end: float | None = None) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for unit in self.units.values():
            if unit.holders:
                totals[unit.model] += unit.price * self.held_hours(unit, hours, end)
        return dict(totals)

    def fleet_by_model(self, hours: float) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for gpu in self.gpus.values():
            totals[gpu["model"]] += REFERENCE_PRICES[gpu["model"]] * hours
        return dict(totals)


def load_truth(path: Path) -> FleetTruth:
    fleet = yaml.safe_load(path.read_text())
    gpus: dict[tuple[str, int], dict[str, Any]] = {}
    units: dict[tuple[str, int, int | None], Unit] = {}
    pods: dict[tuple[str, str], dict[str, Any]] = {}
    for node in fleet["nodes"]:
        name = node["name"]
        index = 0
        for entry in node["gpus"]:
            for _ in range(entry.get("count", 1)):
                gpus[(name, index)] = {"model": entry["model"], "mig": entry.get("mig")}
                if entry.get("mig") is not None:
                    for slot, profile in enumerate(entry["mig"]):
                        units[(name, index, slot)] = Unit(
                            name, index, slot, entry["model"], profile
                        )
                else:
                    units[(name, index, None)] = Unit(name, index, None, entry["model"], None)
                index += 1
        for pod in node.get("pods", []):
            key = (pod.get("namespace", "default"), pod["name"])
            pods[key] = {"labels": pod.get("labels", {}), "phase": pod.get("phase", "Running")}
            if pods[key]["phase"] in ("Succeeded", "Failed"):
                continue
            for container in pod["containers"]:
                refs: list[tuple[int, int | None]] = [(g, None) for g in container.get("gpus", [])]
                refs += [(g, mig_slot) for g, mig_slot in container.get("mig", [])]
                refs += [(g, None) for g, _replica in container.get("replicas", [])]
                for gpu, mig_slot in refs:
                    unit = units[(name, gpu, mig_slot)]
                    if key not in unit.holders:
                        unit.holders.append(key)
                    if pod.get("schedule") is not None:
                        unit.schedule = pod["schedule"]
    for unit in units.values():
        if unit.schedule is not None and len(unit.holders) > 1:
            raise ValueError(f"{unit}: a scheduled pod sharing a device is not modelled here")
    epoch = fleet["epoch"]
    if isinstance(epoch, str):
        epoch = dt.datetime.fromisoformat(epoch)
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=dt.UTC)
    midnight = epoch.timestamp() // 86400 * 86400
    return FleetTruth(gpus, units, pods, midnight)
