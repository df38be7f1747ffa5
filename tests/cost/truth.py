"""Ground truth for the cost tests, computed from the fleet YAML and REFERENCE.md only.

Nothing here calls the code under test: prices are REFERENCE.md §2's table, MIG compute slices
are read from the profile name ("4g.40gb": 4 of 7), and who holds what is read from the YAML
(pods that are not Succeeded/Failed hold their devices for the whole history; pods sharing a
device split it equally).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# REFERENCE.md §2, USD per GPU-hour.
REFERENCE_PRICES = {
    "A100_40GB": 2.74,
    "A100_80GB": 2.29,
    "H100_80GB": 3.99,
    "H200_141GB": 5.00,
    "L4": 0.80,
    "RTX4090": 0.44,
}
COMPUTE_SLICES = 7


@dataclass
class Unit:
    node: str
    gpu: int
    slot: int | None  # MIG slot, or None for the whole GPU
    model: str
    profile: str | None
    holders: list[tuple[str, str]] = field(default_factory=list)

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

    def pod_costs(self, hours: float) -> dict[tuple[str, str], float]:
        costs: dict[tuple[str, str], float] = defaultdict(float)
        for unit in self.units.values():
            for holder in unit.holders:
                costs[holder] += unit.price * hours / len(unit.holders)
        return dict(costs)

    def cost_by(
        self, role: str, hours: float, owners: dict[tuple[str, str], str] | None = None
    ) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for key, cost in self.pod_costs(hours).items():
            if role == "namespace":
                totals[key[0]] += cost
            else:
                label = (owners or {}).get(key) or self.pods[key]["labels"].get(role)
                totals[label or "unassigned"] += cost
        return dict(totals)

    def attributed_by_model(self, hours: float) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for unit in self.units.values():
            if unit.holders:
                totals[unit.model] += unit.price * hours
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
    return FleetTruth(gpus, units, pods)
