"""MIG layouts: validation with a placement search, stranded slices, and the mig-parted artefacts."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

import yaml

from gpucatalog.mig import MigProfile, mig_profiles, total_slices
from gpucatalog.models import MODELS

MIG_NOT_SUPPORTED = "MIG_NOT_SUPPORTED"
INVALID_PARAMETER = "INVALID_PARAMETER"

# Kubernetes label values: at most 63 characters, alphanumeric at both ends.
LABEL_VALUE_MAX_CHARS = 63
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_HASH_CHARS = 10
_MEDIA_ENGINES_SUFFIX = "+me"


@dataclass(frozen=True)
class Placement:
    """One GPU instance on a GPU's memory slices."""

    profile: str  # e.g. "1g.10gb", "4g.40gb", "1g.10gb+me"
    start: int  # first memory slice
    memory_slices: int
    compute_slices: int

    @property
    def end(self) -> int:
        """One past the last memory slice (exclusive)."""
        return self.start + self.memory_slices


class MigLayoutError(ValueError):
    """A MIG layout that cannot be applied; ``code`` is the API error code."""

    def __init__(self, code: str, message: str, details: Mapping[str, object]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, object] = dict(details)


class StrandedSlices(TypedDict):
    """Slices of a partly carved GPU; see :func:`stranded_slices`."""

    computeSlices: int
    memorySlices: list[int]
    freeComputeSlices: int
    freeMemorySlices: list[int]


@dataclass(frozen=True)
class _Geometry:
    model_id: str
    profiles: dict[str, MigProfile]
    total_compute: int
    total_memory: int


def _invalid(reason: str, message: str, **details: object) -> MigLayoutError:
    return MigLayoutError(INVALID_PARAMETER, message, {"reason": reason, **details})


def _geometry(model_id: str) -> _Geometry:
    known = [m.model_id for m in MODELS]
    if model_id not in known:
        raise _invalid(
            "unknownModel",
            f"Unknown GPU model {model_id!r}; use one of {', '.join(known)}.",
            modelId=model_id,
            knownModels=known,
        )
    profiles = mig_profiles(model_id)
    if not profiles:
        mig_models = [m.model_id for m in MODELS if mig_profiles(m.model_id)]
        raise MigLayoutError(
            MIG_NOT_SUPPORTED,
            f"GPU model {model_id} does not support MIG; "
            f"MIG layouts apply to {', '.join(mig_models)}.",
            {"reason": "migNotSupported", "modelId": model_id, "migModels": mig_models},
        )
    compute, memory = total_slices(model_id)
    return _Geometry(model_id, {p.name: p for p in profiles}, compute, memory)


def _check_names(geometry: _Geometry, names: Sequence[str], what: str) -> None:
    unknown = list(dict.fromkeys(n for n in names if n not in geometry.profiles))
    if not unknown:
        return
    valid = list(geometry.profiles)
    # Naming the model a profile does belong to turns a confusing error into an obvious one.
    belongs_to = {
        name: [m.model_id for m in MODELS if any(p.name == name for p in mig_profiles(m.model_id))]
        for name in unknown
    }
    hints = [
        f"{n} is a profile of {', '.join(models)}" for n, models in belongs_to.items() if models
    ]
    raise _invalid(
        "unknownProfile",
        f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a MIG profile of "
        f"{geometry.model_id} ({what}); valid profiles: {', '.join(valid)}"
        + (f" ({'; '.join(hints)})" if hints else "")
        + ".",
        modelId=geometry.model_id,
        unknownProfiles=unknown,
        validProfiles=valid,
        profileBelongsTo={n: m for n, m in belongs_to.items() if m},
    )


def _mask(start: int, memory_slices: int) -> int:
    return ((1 << memory_slices) - 1) << start


def _check_existing(geometry: _Geometry, existing: Sequence[Placement]) -> int:
    """Validate the instances already on the GPU; return their memory-slice bit mask."""
    _check_names(geometry, [p.profile for p in existing], "existing instances")
    occupied = 0
    for placement in existing:
        profile = geometry.profiles[placement.profile]
        problem = None
        if (placement.memory_slices, placement.compute_slices) != (
            profile.memory_slices,
            profile.compute_slices,
        ):
            problem = (
                f"{profile.name} takes {profile.compute_slices} compute and "
                f"{profile.memory_slices} memory slices"
            )
        elif placement.start not in profile.allowed_starts:
            problem = (
                f"{profile.name} may start only at memory slices {list(profile.allowed_starts)}"
            )
        elif occupied & _mask(placement.start, placement.memory_slices):
            problem = "it overlaps another existing instance"
        if problem is not None:
            raise _invalid(
                "invalidExisting",
                f"The existing instance {placement.profile} at memory slice {placement.start} "
                f"is not a valid placement on {geometry.model_id}: {problem}.",
                modelId=geometry.model_id,
                placement={"profile": placement.profile, "start": placement.start},
            )
        occupied |= _mask(placement.start, placement.memory_slices)
    return occupied


def _free_slices(geometry: _Geometry, occupied: int) -> list[int]:
    return [s for s in range(geometry.total_memory) if not occupied >> s & 1]


def _is_media(profile: str) -> bool:
    return profile.endswith(_MEDIA_ENGINES_SUFFIX)


def _check_counts(
    geometry: _Geometry, profiles: Sequence[str], existing: Sequence[Placement]
) -> None:
    existing_counts = Counter(p.profile for p in existing)
    new_counts = Counter(profiles)
    over = [
        {
            "profile": name,
            "requested": new_counts[name],
            "existing": existing_counts[name],
            "max": geometry.profiles[name].max_count,
        }
        for name in geometry.profiles
        if existing_counts[name] + new_counts[name] > geometry.profiles[name].max_count
    ]
    if over:
        parts = [
            f"{o['profile']}: {o['requested']} requested + {o['existing']} existing > max {o['max']}"
            for o in over
        ]
        raise _invalid(
            "maxCount",
            f"Too many instances of a profile on one GPU ({geometry.model_id}: "
            f"{'; '.join(parts)}).",
            modelId=geometry.model_id,
            overMax=over,
        )
    media = [p for p in [*existing_counts.elements(), *profiles] if _is_media(p)]
    if len(media) > 1:
        raise _invalid(
            "mediaEngines",
            f"At most one +me (media engines) instance fits on a GPU; the layout has {len(media)} "
            f"({', '.join(media)}).",
            modelId=geometry.model_id,
            mediaEngineProfiles=media,
            max=1,
        )


def _summary(profiles: Sequence[MigProfile]) -> str:
    counts = Counter(p.name for p in profiles)
    return ", ".join(f"{count} x {name}" for name, count in counts.items())


def _check_budget(
    geometry: _Geometry, new: Sequence[MigProfile], existing: Sequence[Placement], occupied: int
) -> None:
    existing_compute = sum(p.compute_slices for p in existing)
    requested_compute = sum(p.compute_slices for p in new)
    if existing_compute + requested_compute > geometry.total_compute:
        raise _invalid(
            "computeBudget",
            f"The layout needs {existing_compute + requested_compute} compute slices "
            f"({_summary(new)}: {requested_compute} requested + {existing_compute} existing) "
            f"but the GPU ({geometry.model_id}) has {geometry.total_compute}.",
            modelId=geometry.model_id,
            requestedComputeSlices=requested_compute,
            existingComputeSlices=existing_compute,
            totalComputeSlices=geometry.total_compute,
        )
    free = _free_slices(geometry, occupied)
    requested_memory = sum(p.memory_slices for p in new)
    if requested_memory > len(free):
        raise _invalid(
            "memorySlices",
            f"The requested instances ({_summary(new)}) need {requested_memory} memory slices "
            + (
                f"but the GPU ({geometry.model_id}) has {geometry.total_memory}."
                if len(free) == geometry.total_memory
                else f"but only {len(free)} of the GPU's {geometry.total_memory} are free."
            ),
            modelId=geometry.model_id,
            requestedMemorySlices=requested_memory,
            freeMemorySlices=free,
            totalMemorySlices=geometry.total_memory,
        )


def _search(items: Sequence[MigProfile], occupied: int) -> list[int] | None:
    """Starts for ``items`` (in their order) on free memory slices, lowest starts first; or None."""
    dead_ends: set[tuple[int, int]] = set()
    starts: list[int] = []

    def place(index: int, mask: int) -> bool:
        if index == len(items):
            return True
        if (index, mask) in dead_ends:
            return False
        profile = items[index]
        for start in profile.allowed_starts:
            bits = _mask(start, profile.memory_slices)
            if mask & bits:
                continue
            starts.append(start)
            if place(index + 1, mask | bits):
                return True
            starts.pop()
        dead_ends.add((index, mask))
        return False

    return starts if place(0, occupied) else None


def _fits(profile: MigProfile, occupied: int, total_memory: int) -> list[int]:
    return [
        s
        for s in profile.allowed_starts
        if s + profile.memory_slices <= total_memory
        and not occupied & _mask(s, profile.memory_slices)
    ]


def validate_layout(
    model_id: str,
    profiles: Sequence[str],
    existing: Sequence[Placement] = (),
    *,
    allow_empty: bool = False,
) -> list[Placement]:
    """Place ``profiles`` on a GPU that already holds ``existing``; raise MigLayoutError if invalid.

    Returns one Placement per requested profile, in request order. The rules (NVIDIA's MIG user
    guide; gpucatalog/mig.py cites it), checked in this order so the error names the first that
    fails: known model; model has MIG (else ``MIG_NOT_SUPPORTED``); non-empty request (unless
    ``allow_empty``: MIG mode on with no new instance, as a mig-parted config may say); every name
    is a profile of this model; ``existing`` is itself a valid placement; counts (existing + new)
    within each profile's max; at most one ``+me`` instance; total compute slices within the GPU's
    (7, A30: 4); enough free memory slices; and a non-overlapping placement at allowed starts
    exists. Every failure but MIG_NOT_SUPPORTED is ``INVALID_PARAMETER``; ``details["reason"]``
    names the rule.

    The search is a complete backtracking search, larger instances first; each instance takes
    the lowest start from which the rest can still be placed, so the result is deterministic.
    """
    geometry = _geometry(model_id)
    names = list(profiles)
    if not names and allow_empty:
        _check_existing(geometry, existing)
        return []
    if not names:
        raise _invalid(
            "emptyLayout",
            "The layout lists no MIG profiles; give at least one.",
            modelId=model_id,
            validProfiles=list(geometry.profiles),
        )
    _check_names(geometry, names, "requested")
    occupied = _check_existing(geometry, existing)
    _check_counts(geometry, names, existing)
    new = [geometry.profiles[n] for n in names]
    _check_budget(geometry, new, existing, occupied)

    # Larger instances first (fewest ways to fit), then fewer allowed starts; stable otherwise.
    order = sorted(
        range(len(new)),
        key=lambda i: (-new[i].memory_slices, -new[i].compute_slices, len(new[i].allowed_starts)),
    )
    starts = _search([new[i] for i in order], occupied)
    if starts is None:
        free = _free_slices(geometry, occupied)
        unplaceable = list(
            dict.fromkeys(p.name for p in new if not _fits(p, occupied, geometry.total_memory))
        )
        if unplaceable:
            reason = "; ".join(
                f"{name} needs {geometry.profiles[name].memory_slices} free consecutive memory "
                f"slices starting at one of {list(geometry.profiles[name].allowed_starts)}"
                for name in unplaceable
            )
        else:
            reason = "each fits alone but no combination of allowed starts avoids an overlap"
        raise _invalid(
            "placement",
            f"The requested instances cannot be placed on the GPU ({model_id}) without overlapping "
            f"({reason}); free memory slices: {free}.",
            modelId=model_id,
            unplaceableProfiles=unplaceable,
            freeMemorySlices=free,
        )
    by_request: dict[int, Placement] = {}
    for index, start in zip(order, starts, strict=True):
        profile = new[index]
        by_request[index] = Placement(
            profile.name, start, profile.memory_slices, profile.compute_slices
        )
    return [by_request[i] for i in range(len(new))]


def free_memory_slices(model_id: str, existing: Sequence[Placement]) -> list[int]:
    """Memory slices (ascending) that no existing instance occupies."""
    geometry = _geometry(model_id)
    return _free_slices(geometry, _check_existing(geometry, existing))


def _max_extra_compute(
    geometry: _Geometry,
    occupied: int,
    counts: Counter[str],
    compute_left: int,
    media_left: int,
) -> int:
    """The most compute slices any valid set of additional instances could take."""
    candidates = [
        (profile, start)
        for profile in geometry.profiles.values()
        for start in profile.allowed_starts
        if start + profile.memory_slices <= geometry.total_memory
    ]
    memo: dict[tuple[int, int, tuple[int, ...], int, int], int] = {}
    names = list(geometry.profiles)

    def extend(first: int, mask: int, compute: int, media: int) -> int:
        key = (first, mask, tuple(counts[n] for n in names), compute, media)
        if key in memo:
            return memo[key]
        gained = 0
        # Candidates are taken in a fixed order so each set of instances is visited once.
        for index in range(first, len(candidates)):
            profile, start = candidates[index]
            bits = _mask(start, profile.memory_slices)
            if (
                mask & bits
                or profile.compute_slices > compute
                or counts[profile.name] >= profile.max_count
                or (_is_media(profile.name) and media == 0)
            ):
                continue
            counts[profile.name] += 1
            gained = max(
                gained,
                profile.compute_slices
                + extend(
                    index + 1,
                    mask | bits,
                    compute - profile.compute_slices,
                    media - (1 if _is_media(profile.name) else 0),
                ),
            )
            counts[profile.name] -= 1
            if gained == compute:
                break
        memo[key] = gained
        return gained

    return extend(0, occupied, compute_left, media_left)


def stranded_slices(model_id: str, existing: Sequence[Placement]) -> StrandedSlices:
    """Slices of a partly carved GPU that no further MIG instance could ever use.

    A profile is *still allowed* when one more instance of it keeps its count within its max,
    keeps the GPU at no more than one ``+me`` instance and keeps total compute slices within the
    GPU's budget. A free memory slice is *stranded* when no still-allowed profile can be placed
    (at an allowed start, on free slices only) so that it covers that slice. Free compute slices
    are stranded when no set of further instances could take them: ``computeSlices`` is the free
    compute minus the most compute that any valid set of additional instances could use. In
    particular, when no profile can be placed at all, every free compute slice is stranded.

    Returns ``computeSlices`` (count), ``memorySlices`` (ascending indices), and for reference
    ``freeComputeSlices`` and ``freeMemorySlices``.
    """
    geometry = _geometry(model_id)
    occupied = _check_existing(geometry, existing)
    counts = Counter(p.profile for p in existing)
    compute_left = geometry.total_compute - sum(p.compute_slices for p in existing)
    media_left = 1 - sum(1 for p in existing if _is_media(p.profile))
    free = _free_slices(geometry, occupied)

    usable = 0
    for profile in geometry.profiles.values():
        if (
            counts[profile.name] >= profile.max_count
            or profile.compute_slices > compute_left
            or (_is_media(profile.name) and media_left <= 0)
        ):
            continue
        for start in _fits(profile, occupied, geometry.total_memory):
            usable |= _mask(start, profile.memory_slices)
    stranded_compute = max(compute_left, 0) - _max_extra_compute(
        geometry, occupied, counts, max(compute_left, 0), max(media_left, 0)
    )
    return {
        "computeSlices": stranded_compute,
        "memorySlices": [s for s in free if not usable >> s & 1],
        "freeComputeSlices": max(compute_left, 0),
        "freeMemorySlices": free,
    }


def is_valid_label_value(value: str) -> bool:
    """Whether ``value`` is a valid, non-empty Kubernetes label value."""
    return len(value) <= LABEL_VALUE_MAX_CHARS and bool(_LABEL_VALUE.match(value))


def _label_safe(profile: str) -> str:
    return profile.replace("+", ".")


def mig_config_name(model_id: str, profiles: Sequence[str]) -> str:
    """A stable name for a one-GPU layout, for the node label ``nvidia.com/mig.config``.

    The layout is validated first (MigLayoutError as in :func:`validate_layout`). The name does
    not depend on the order of ``profiles``. Following the GPU operator's default config
    names, ``all-<profile>`` means the profile at its max count (``all-1g.10gb`` is seven
    1g.10gb); any other layout is ``custom-<profile>-x<count>-...`` with profiles from the
    smallest to the largest. ``+`` is not allowed in label values, so ``+me`` becomes ``.me``.
    A name over 63 characters is cut and ends in a hash of the full name.
    """
    validate_layout(model_id, profiles)
    geometry = _geometry(model_id)
    counts = Counter(profiles)
    if len(counts) == 1:
        (name, count), *_ = counts.items()
        if count == geometry.profiles[name].max_count:
            return "all-" + _label_safe(name)
    ordered = sorted(
        counts,
        key=lambda n: (
            geometry.profiles[n].memory_slices,
            geometry.profiles[n].compute_slices,
            _is_media(n),
            n,
        ),
    )
    return shorten_label_value(
        "custom-" + "-".join(f"{_label_safe(n)}-x{counts[n]}" for n in ordered)
    )


def shorten_label_value(name: str) -> str:
    """``name`` if it fits a label value's 63 characters, else its head and a hash of it all."""
    if len(name) <= LABEL_VALUE_MAX_CHARS:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    head = name[: LABEL_VALUE_MAX_CHARS - _HASH_CHARS - 1].rstrip("-._")
    return f"{head}-{digest}"


_PROFILE_NAME = re.compile(r"^(\d+)g\.(\d+)gb(\+me)?$")

Devices = Sequence[int] | Literal["all"]


def _profile_sort_key(name: str) -> tuple[int, int, bool, str]:
    match = _PROFILE_NAME.match(name)
    if match is None:
        raise _invalid(
            "unknownProfile",
            f"{name!r} is not a MIG profile name (expected e.g. '1g.10gb' or '1g.10gb+me').",
            unknownProfiles=[name],
        )
    return int(match[1]), int(match[2]), match[3] is not None, name


def mig_parted_config(
    layouts: Mapping[str, Sequence[tuple[Devices, Sequence[str] | None]]],
) -> dict[str, object]:
    """The mig-parted config (``version: v1``) holding the named layouts.

    ``layouts`` maps a config name (a label value, e.g. from :func:`mig_config_name`) to entries
    of (device indices or ``"all"``, profiles on each of those devices). Profile names are kept
    as mig-parted spells them (``1g.10gb+me``); ``mig-devices`` lists them smallest first with
    their counts. An empty profile list means MIG enabled with no instances; ``None`` means MIG
    disabled (``mig-enabled: false``, no ``mig-devices``), as a config covering every GPU of a
    node says of its whole GPUs.
    """
    configs: dict[str, list[dict[str, object]]] = {}
    for config_name, entries in layouts.items():
        if not is_valid_label_value(config_name):
            raise _invalid(
                "configName",
                f"MIG config name {config_name!r} is not a valid label value (at most 63 "
                "characters of A-Z, a-z, 0-9, '.', '_', '-', alphanumeric at both ends).",
                configName=config_name,
            )
        if not entries:
            raise _invalid(
                "emptyConfig",
                f"MIG config {config_name!r} lists no devices.",
                configName=config_name,
            )
        seen: set[int] = set()
        rendered: list[dict[str, object]] = []
        for devices, profiles in entries:
            devices_value: list[int] | str
            if isinstance(devices, str):
                if devices != "all" or len(entries) != 1:
                    raise _invalid(
                        "devices",
                        f"MIG config {config_name!r}: devices must be a list of GPU indices, or "
                        "'all' in a config's only entry.",
                        configName=config_name,
                        devices=devices,
                    )
                devices_value = "all"
            else:
                indices = list(devices)
                clash = sorted(seen.intersection(indices))
                if not indices or len(set(indices)) != len(indices) or clash:
                    raise _invalid(
                        "devices",
                        f"MIG config {config_name!r}: each entry needs GPU indices, each index "
                        "at most once in the config.",
                        configName=config_name,
                        devices=indices,
                        repeatedDevices=clash,
                    )
                if any(i < 0 for i in indices):
                    raise _invalid(
                        "devices",
                        f"MIG config {config_name!r}: GPU indices must be non-negative.",
                        configName=config_name,
                        devices=indices,
                    )
                seen.update(indices)
                devices_value = indices
            if profiles is None:
                rendered.append({"devices": devices_value, "mig-enabled": False})
                continue
            counts = Counter(profiles)
            rendered.append(
                {
                    "devices": devices_value,
                    "mig-enabled": True,
                    "mig-devices": {n: counts[n] for n in sorted(counts, key=_profile_sort_key)},
                }
            )
        configs[config_name] = rendered
    return {"version": "v1", "mig-configs": configs}


def mig_parted_yaml(
    layouts: Mapping[str, Sequence[tuple[Devices, Sequence[str] | None]]],
) -> str:
    """:func:`mig_parted_config` as YAML, keys in mig-parted's documented order."""
    return yaml.safe_dump(mig_parted_config(layouts), sort_keys=False)


def mig_parted_layouts(
    config: Mapping[str, object], name: str
) -> dict[int | str, list[str] | None]:
    """What the config ``name`` of a mig-parted config (as :func:`mig_parted_config` writes it,
    parsed from YAML) asks of each device: ``{index or "all": profiles, or None for MIG off}``,
    each profile repeated as often as its count. KeyError when the config has no ``name``;
    MigLayoutError for an entry that is not of that shape."""
    configs = config.get("mig-configs")
    if not isinstance(configs, Mapping):
        raise _invalid("configShape", "A mig-parted config needs a mig-configs mapping.")
    entries = configs[name]
    if not isinstance(entries, list):
        raise _invalid("configShape", f"MIG config {name!r} is not a list of entries.")
    found: dict[int | str, list[str] | None] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise _invalid("configShape", f"MIG config {name!r}: an entry is not a mapping.")
        devices = entry.get("devices")
        targets: list[int | str]
        if devices == "all":
            targets = ["all"]
        elif isinstance(devices, list) and all(isinstance(d, int) for d in devices):
            targets = list(devices)
        else:
            raise _invalid("devices", f"MIG config {name!r}: devices {devices!r} not understood.")
        profiles: list[str] | None = None
        if entry.get("mig-enabled"):
            counts = entry.get("mig-devices") or {}
            if not isinstance(counts, Mapping):
                raise _invalid("configShape", f"MIG config {name!r}: mig-devices not a mapping.")
            profiles = [str(p) for p, n in counts.items() for _ in range(int(n))]
        for target in targets:
            found[target] = profiles
    return found


def on_demand_profile(model_id: str, required_memory_gb: float) -> MigProfile | None:
    """The profile MIG on demand carves for ``required_memory_gb`` on a ``model_id`` GPU, or
    None when no profile holds that much.

    The fewest memory slices that hold the request; among profiles with as many, the one whose
    compute share is closest to its memory share (a 2g.20gb rather than a 1g.20gb, whose single
    compute slice would starve a 20 GB workload; a 3g.40gb rather than a 4g.40gb), then the one
    with fewer compute slices. ``+me`` profiles are left to those who ask for them by name.
    """
    geometry = _geometry(model_id)
    balance = geometry.total_compute / geometry.total_memory
    fitting = [
        p
        for p in geometry.profiles.values()
        if p.memory_gb >= required_memory_gb and not _is_media(p.name)
    ]
    if not fitting:
        return None
    return min(
        fitting,
        key=lambda p: (
            p.memory_slices,
            abs(p.compute_slices / p.memory_slices - balance),
            p.compute_slices,
            p.name,
        ),
    )


def on_demand_layout(model_id: str, profile: str) -> list[Placement]:
    """A whole-GPU layout for an empty ``model_id`` GPU that holds ``profile`` first, then as
    many more of it as fit, then the rest filled with the largest profiles that still fit (no
    ``+me``): e.g. a 2g.20gb on an A100 80GB gives 3 x 2g.20gb + 1g.20gb, every compute and
    memory slice in use. Placements in layout order (the first is the requested profile)."""
    geometry = _geometry(model_id)
    _check_names(geometry, [profile], "requested")
    names = [profile]
    validate_layout(model_id, names)
    while True:
        try:
            validate_layout(model_id, [*names, profile])
        except MigLayoutError:
            break
        names.append(profile)
    fillers = sorted(
        (p for p in geometry.profiles.values() if not _is_media(p.name)),
        key=lambda p: (-p.memory_slices, -p.compute_slices, p.name),
    )
    for filler in fillers:
        while True:
            try:
                validate_layout(model_id, [*names, filler.name])
            except MigLayoutError:
                break
            names.append(filler.name)
    return validate_layout(model_id, names)


def resource_name(profile: str | MigProfile) -> str:
    """The device plugin's mixed-strategy resource, e.g. ``nvidia.com/mig-1g.10gb.me``."""
    if isinstance(profile, MigProfile):
        return profile.resource_name
    for model in MODELS:
        for candidate in mig_profiles(model.model_id):
            if candidate.name == profile:
                return candidate.resource_name
    raise _invalid(
        "unknownProfile",
        f"{profile!r} is not a MIG profile of any known GPU model.",
        unknownProfiles=[profile],
    )
