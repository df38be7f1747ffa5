"""MIG layouts: validation rules, placement search, stranded slices, artefacts.

The rules and placements are NVIDIA's MIG user guide's
(https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence

import pytest
import yaml

from gpucatalog.mig import MigProfile, mig_profiles, total_slices
from gpucatalog.models import MODELS
from gpucatalog.placement import (
    INVALID_PARAMETER,
    MIG_NOT_SUPPORTED,
    MigLayoutError,
    Placement,
    free_memory_slices,
    is_valid_label_value,
    mig_config_name,
    mig_parted_config,
    mig_parted_layouts,
    mig_parted_yaml,
    on_demand_layout,
    on_demand_profile,
    resource_name,
    shorten_label_value,
    stranded_slices,
    validate_layout,
)

MIG_MODELS = [m.model_id for m in MODELS if mig_profiles(m.model_id)]


def profile_of(model_id: str, name: str) -> MigProfile:
    return next(p for p in mig_profiles(model_id) if p.name == name)


def at(model_id: str, name: str, start: int) -> Placement:
    """An existing instance of ``name`` at memory slice ``start``."""
    profile = profile_of(model_id, name)
    return Placement(name, start, profile.memory_slices, profile.compute_slices)


def rejection(
    model_id: str, profiles: Sequence[str], existing: Sequence[Placement] = ()
) -> MigLayoutError:
    with pytest.raises(MigLayoutError) as caught:
        validate_layout(model_id, profiles, existing)
    return caught.value


# --- validate_layout: layouts that are valid ---------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "profiles", "existing", "expected_starts"),
    [
        pytest.param(
            "A100_80GB", ["1g.10gb", "2g.20gb", "4g.40gb"], [], [6, 4, 0], id="ref-1g-2g-4g"
        ),
        pytest.param(
            "A100_80GB", ["1g.10gb", "2g.20gb", "1g.10gb"], [], [2, 0, 3], id="ref-1g-2g-1g"
        ),
        pytest.param("A100_80GB", ["1g.10gb"] * 7, [], [0, 1, 2, 3, 4, 5, 6], id="seven-1g"),
        pytest.param("A100_80GB", ["7g.80gb"], [], [0], id="7g-alone"),
        pytest.param(
            "A100_80GB", ["3g.40gb", "4g.40gb"], [], [4, 0], id="3g-4g-7-compute-8-memory"
        ),
        pytest.param("A100_80GB", ["3g.40gb", "3g.40gb"], [], [0, 4], id="two-3g"),
        pytest.param("A100_80GB", ["1g.20gb"] * 4, [], [0, 2, 4, 6], id="four-1g-double-memory"),
        pytest.param(
            "A100_80GB", ["2g.20gb"] * 3 + ["1g.10gb"], [], [0, 2, 4, 6], id="three-2g-one-1g"
        ),
        pytest.param("A100_80GB", ["1g.10gb+me", "1g.10gb"], [], [0, 1], id="one-me"),
        pytest.param(
            "A100_80GB",
            ["4g.40gb"],
            [at("A100_80GB", "3g.40gb", 4)],
            [0],
            id="existing-3g@4-4g-fits",
        ),
        pytest.param(
            "A100_80GB",
            ["1g.10gb"],
            [at("A100_80GB", "1g.10gb", 0)],
            [1],
            id="existing-1g@0-next-1g",
        ),
        pytest.param(
            "A100_80GB", ["3g.40gb"], [at("A100_80GB", "1g.10gb", 0)], [4], id="existing-1g@0-3g@4"
        ),
        pytest.param(
            "A100_40GB", ["1g.5gb", "2g.10gb", "4g.20gb"], [], [6, 4, 0], id="a100-40-names"
        ),
        pytest.param("A100_40GB", ["3g.20gb", "3g.20gb"], [], [0, 4], id="a100-40-two-3g"),
        pytest.param(
            "H100_80GB", ["1g.10gb", "2g.20gb", "4g.40gb"], [], [6, 4, 0], id="h100-names"
        ),
        pytest.param(
            "H100_80GB", ["1g.20gb", "3g.40gb", "1g.10gb+me"], [], [4, 0, 6], id="h100-mixed"
        ),
        pytest.param("H200_141GB", ["3g.71gb", "4g.71gb"], [], [4, 0], id="h200-3g-4g"),
        pytest.param(
            "H200_141GB", ["1g.18gb", "1g.35gb", "2g.35gb"], [], [4, 2, 0], id="h200-small"
        ),
        pytest.param("H200_141GB", ["7g.141gb"], [], [0], id="h200-7g"),
        pytest.param("A30_24GB", ["4g.24gb"], [], [0], id="a30-4g-alone"),
        pytest.param("A30_24GB", ["2g.12gb", "2g.12gb"], [], [0, 2], id="a30-two-2g"),
        pytest.param("A30_24GB", ["1g.6gb"] * 4, [], [0, 1, 2, 3], id="a30-four-1g"),
        pytest.param("A30_24GB", ["2g.12gb+me", "2g.12gb"], [], [0, 2], id="a30-2g-me-and-2g"),
        pytest.param("A30_24GB", ["1g.6gb+me", "2g.12gb", "1g.6gb"], [], [2, 0, 3], id="a30-mixed"),
    ],
)
def test_valid_layouts_are_placed_in_request_order(
    model_id: str, profiles: list[str], existing: list[Placement], expected_starts: list[int]
) -> None:
    placements = validate_layout(model_id, profiles, existing)
    assert [p.profile for p in placements] == profiles
    assert [p.start for p in placements] == expected_starts
    for placement in placements:
        profile = profile_of(model_id, placement.profile)
        assert placement.memory_slices == profile.memory_slices
        assert placement.compute_slices == profile.compute_slices
        assert placement.end == placement.start + profile.memory_slices


def test_placement_is_deterministic() -> None:
    layout = ["1g.10gb", "1g.20gb", "2g.20gb", "1g.10gb", "1g.10gb+me"]
    first = validate_layout("A100_80GB", layout)
    assert all(validate_layout("A100_80GB", layout) == first for _ in range(5))


# --- validate_layout: layouts that are refused, and why ------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "profiles", "existing", "reason", "in_message"),
    [
        pytest.param("A100_80GB", ["1g.10gb"] * 8, [], "maxCount", "max 7", id="eight-1g"),
        pytest.param(
            "A100_40GB",
            ["3g.20gb", "3g.20gb", "1g.5gb"],
            [],
            "memorySlices",
            "need 9 memory slices",
            id="ref-2x3g-1g-needs-9-memory-slices",
        ),
        pytest.param(
            "A100_80GB",
            ["3g.40gb", "3g.40gb", "1g.20gb"],
            [],
            "memorySlices",
            "need 10 memory",
            id="3g-3g-1g-double-memory",
        ),
        pytest.param(
            "A100_80GB",
            ["4g.40gb", "2g.20gb", "2g.20gb"],
            [],
            "computeBudget",
            "8 compute slices",
            id="compute-over-memory-fits",
        ),
        pytest.param(
            "A100_80GB",
            ["1g.10gb"] * 7 + ["1g.10gb+me"],
            [],
            "computeBudget",
            "has 7",
            id="seven-1g-plus-me",
        ),
        pytest.param("A100_80GB", ["1g.10gb+me"] * 2, [], "maxCount", "max 1", id="two-same-me"),
        pytest.param(
            "A30_24GB", ["1g.6gb+me", "2g.12gb+me"], [], "mediaEngines", "one +me", id="a30-two-me"
        ),
        pytest.param(
            "A100_80GB",
            ["1g.10gb+me"],
            [at("A100_80GB", "1g.10gb+me", 0)],
            "maxCount",
            "1 existing",
            id="existing-me-blocks-second-me",
        ),
        pytest.param(
            "A30_24GB",
            ["2g.12gb+me"],
            [at("A30_24GB", "1g.6gb+me", 0)],
            "mediaEngines",
            "has 2",
            id="a30-existing-me-blocks-other-me",
        ),
        pytest.param(
            "A100_80GB", ["7g.80gb", "1g.10gb"], [], "computeBudget", "8 compute", id="7g-and-1g"
        ),
        pytest.param(
            "A100_80GB",
            ["7g.80gb"],
            [at("A100_80GB", "1g.10gb", 3)],
            "computeBudget",
            "1 existing",
            id="7g-on-carved-gpu",
        ),
        pytest.param(
            "H200_141GB",
            ["7g.141gb"],
            [at("H200_141GB", "1g.18gb", 7 - 1)],
            "computeBudget",
            "8",
            id="h200-7g-on-carved-gpu",
        ),
        pytest.param(
            "A100_80GB",
            ["4g.40gb"],
            [at("A100_80GB", "1g.10gb", 0)],
            "placement",
            "4g.40gb needs 4",
            id="existing-1g@0-blocks-4g",
        ),
        pytest.param(
            "A100_80GB",
            ["4g.40gb"],
            [at("A100_80GB", "1g.10gb", 3)],
            "placement",
            "starting at one of [0]",
            id="existing-1g@3-blocks-4g",
        ),
        pytest.param(
            "A100_80GB",
            ["2g.20gb", "2g.20gb"],
            [at("A100_80GB", "1g.10gb", 1), at("A100_80GB", "1g.10gb", 5)],
            "placement",
            "no combination",
            id="scattered-1g-leave-one-2g-slot",
        ),
        pytest.param(
            "A100_80GB",
            ["1g.20gb", "1g.20gb"],
            [
                at("A100_80GB", "1g.10gb", 1),
                at("A100_80GB", "1g.10gb", 3),
                at("A100_80GB", "1g.10gb", 6),
            ],
            "placement",
            "free memory slices: [0, 2, 4, 5, 7]",
            id="five-free-slices-but-one-even-pair",
        ),
        pytest.param(
            "A100_80GB",
            ["3g.40gb", "2g.20gb"],
            [at("A100_80GB", "1g.10gb", 4)],
            "placement",
            "no combination",
            id="each-fits-alone-not-together",
        ),
        pytest.param(
            "A100_80GB",
            ["2g.20gb", "3g.40gb"],
            [at("A100_80GB", "1g.10gb", 1), at("A100_80GB", "1g.10gb", 5)],
            "placement",
            "3g.40gb needs 4 free consecutive memory slices starting at one of [0, 4]",
            id="scattered-1g-block-3g",
        ),
        pytest.param("A30_24GB", ["1g.6gb"] * 5, [], "maxCount", "max 4", id="a30-five-1g"),
        pytest.param(
            "A30_24GB", ["4g.24gb", "1g.6gb"], [], "computeBudget", "has 4", id="a30-over-budget"
        ),
        pytest.param("A100_80GB", [], [], "emptyLayout", "no MIG profiles", id="empty"),
    ],
)
def test_invalid_layouts_name_the_rule(
    model_id: str, profiles: list[str], existing: list[Placement], reason: str, in_message: str
) -> None:
    error = rejection(model_id, profiles, existing)
    assert error.code == INVALID_PARAMETER
    assert error.details["reason"] == reason
    assert in_message in error.message
    assert str(error) == error.message


def test_two_by_3g_plus_1g_message_says_why() -> None:
    error = rejection("A100_40GB", ["3g.20gb", "3g.20gb", "1g.5gb"])
    assert error.message == (
        "The requested instances (2 x 3g.20gb, 1 x 1g.5gb) need 9 memory slices "
        "but the GPU (A100_40GB) has 8."
    )
    assert error.details["requestedMemorySlices"] == 9
    assert error.details["totalMemorySlices"] == 8


@pytest.mark.parametrize("model_id", ["RTX4090", "L4"])
@pytest.mark.parametrize("profile", ["1g.10gb", "7g.80gb", "1g.5gb", "nonsense"])
def test_models_without_mig_are_not_supported(model_id: str, profile: str) -> None:
    error = rejection(model_id, [profile])
    assert error.code == MIG_NOT_SUPPORTED
    assert model_id in error.message
    assert "A100_80GB" in error.details["migModels"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("model_id", "profile", "belongs_to"),
    [
        pytest.param("A100_80GB", "1g.5gb", ["A100_40GB"], id="a100-40-name-on-a100-80"),
        pytest.param("A100_80GB", "7g.40gb", ["A100_40GB"], id="a100-40-7g-on-a100-80"),
        pytest.param(
            "A100_40GB", "1g.20gb", ["A100_80GB", "H100_80GB"], id="a100-80-name-on-a100-40"
        ),
        pytest.param(
            "H200_141GB", "1g.10gb", ["A100_40GB", "A100_80GB", "H100_80GB"], id="h100-on-h200"
        ),
        pytest.param("A30_24GB", "1g.5gb", ["A100_40GB"], id="a100-on-a30"),
        pytest.param("A100_80GB", "1g.10gb+ME", [], id="wrong-case"),
        pytest.param("A100_80GB", "8g.90gb", [], id="no-such-profile"),
    ],
)
def test_names_of_other_models_are_invalid(
    model_id: str, profile: str, belongs_to: list[str]
) -> None:
    error = rejection(model_id, [mig_profiles(model_id)[0].name, profile])
    assert error.code == INVALID_PARAMETER
    assert error.details["reason"] == "unknownProfile"
    assert error.details["unknownProfiles"] == [profile]
    assert error.details["validProfiles"] == [p.name for p in mig_profiles(model_id)]
    assert error.details["profileBelongsTo"] == ({profile: belongs_to} if belongs_to else {})
    assert f"not a MIG profile of {model_id}" in error.message


def test_unknown_model_is_invalid() -> None:
    error = rejection("V100", ["1g.10gb"])
    assert error.code == INVALID_PARAMETER
    assert error.details["reason"] == "unknownModel"
    assert "A100_80GB" in error.details["knownModels"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("existing", "in_message"),
    [
        pytest.param([Placement("3g.40gb", 2, 4, 3)], "may start only at", id="disallowed-start"),
        pytest.param(
            [Placement("3g.40gb", 0, 2, 3)], "takes 3 compute and 4 memory", id="wrong-size"
        ),
        pytest.param(
            [Placement("2g.20gb", 0, 2, 2), Placement("1g.10gb", 1, 1, 1)], "overlaps", id="overlap"
        ),
    ],
)
def test_inconsistent_existing_instances_are_refused(
    existing: list[Placement], in_message: str
) -> None:
    for call in (
        lambda: validate_layout("A100_80GB", ["1g.10gb"], existing),
        lambda: free_memory_slices("A100_80GB", existing),
        lambda: stranded_slices("A100_80GB", existing),
    ):
        with pytest.raises(MigLayoutError) as caught:
            call()
        assert caught.value.details["reason"] == "invalidExisting"
        assert in_message in caught.value.message


def test_an_empty_layout_may_be_allowed_mig_mode_without_new_instances() -> None:
    assert validate_layout("A100_80GB", [], allow_empty=True) == []
    assert validate_layout("A100_80GB", [], [at("A100_80GB", "4g.40gb", 0)], allow_empty=True) == []
    assert rejection("A100_80GB", []).details["reason"] == "emptyLayout"
    for model_id, existing in (("RTX4090", []), ("A100_80GB", [Placement("3g.40gb", 2, 4, 3)])):
        with pytest.raises(MigLayoutError) as caught:
            validate_layout(model_id, [], existing, allow_empty=True)
        assert caught.value.code == (
            MIG_NOT_SUPPORTED if model_id == "RTX4090" else INVALID_PARAMETER
        )


# --- free and stranded slices ------------------------------------------------------------------


def test_free_memory_slices() -> None:
    existing = validate_layout("A100_80GB", ["3g.40gb", "2g.20gb"])
    assert free_memory_slices("A100_80GB", existing) == [6, 7]
    assert free_memory_slices("A100_80GB", []) == list(range(8))
    assert free_memory_slices("A30_24GB", []) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("model_id", "existing", "expected"),
    [
        pytest.param("A100_80GB", [], (0, [], 7, list(range(8))), id="empty-gpu"),
        pytest.param(
            "A100_80GB",
            [at("A100_80GB", "3g.40gb", 0), at("A100_80GB", "2g.20gb", 4)],
            # Slice 7 is reachable only by 1g.20gb@6, which takes both free slices and one of the
            # two free compute slices: the other compute slice can never be used.
            (1, [], 2, [6, 7]),
            id="3g-2g",
        ),
        pytest.param(
            "A100_80GB",
            [at("A100_80GB", "1g.10gb", s) for s in range(7)],
            (0, [7], 0, [7]),
            id="seven-1g-strand-slice-7",
        ),
        pytest.param(
            "A100_80GB",
            [
                at("A100_80GB", "4g.40gb", 0),
                at("A100_80GB", "2g.20gb", 4),
                at("A100_80GB", "1g.10gb", 6),
            ],
            (0, [7], 0, [7]),
            id="ref-layout-strands-slice-7",
        ),
        pytest.param(
            "A100_80GB",
            [at("A100_80GB", "3g.40gb", 0), at("A100_80GB", "3g.40gb", 4)],
            (1, [], 1, []),
            id="two-3g-strand-one-compute",
        ),
        pytest.param(
            "A100_80GB",
            [at("A100_80GB", "4g.40gb", 0), at("A100_80GB", "3g.40gb", 4)],
            (0, [], 0, []),
            id="full-layout",
        ),
        pytest.param("A100_80GB", [at("A100_80GB", "7g.80gb", 0)], (0, [], 0, []), id="7g-full"),
        pytest.param(
            "A100_80GB",
            [at("A100_80GB", "1g.10gb", s) for s in range(6)] + [at("A100_80GB", "1g.10gb+me", 6)],
            (0, [7], 0, [7]),
            id="max-1g-and-me",
        ),
        pytest.param(
            "A100_80GB",
            [
                at("A100_80GB", "2g.20gb", 0),
                at("A100_80GB", "2g.20gb", 2),
                at("A100_80GB", "2g.20gb", 4),
            ],
            (0, [], 1, [6, 7]),
            id="three-2g-room-for-one-1g",
        ),
        pytest.param(
            "A100_80GB",
            [
                at("A100_80GB", "1g.20gb", 0),
                at("A100_80GB", "1g.20gb", 2),
                at("A100_80GB", "1g.20gb", 4),
            ],
            # Four compute slices left but one more instance at most (slice 7 is no 1g's start).
            (3, [], 4, [6, 7]),
            id="three-1g-double-memory",
        ),
        pytest.param(
            "A30_24GB",
            [at("A30_24GB", "2g.12gb", 0), at("A30_24GB", "1g.6gb", 2)],
            (0, [], 1, [3]),
            id="a30-room-for-one-1g",
        ),
        pytest.param(
            "A30_24GB",
            [at("A30_24GB", "1g.6gb", s) for s in range(3)] + [at("A30_24GB", "1g.6gb+me", 3)],
            (0, [], 0, []),
            id="a30-full",
        ),
    ],
)
def test_stranded_slices(
    model_id: str, existing: list[Placement], expected: tuple[int, list[int], int, list[int]]
) -> None:
    assert stranded_slices(model_id, existing) == {
        "computeSlices": expected[0],
        "memorySlices": expected[1],
        "freeComputeSlices": expected[2],
        "freeMemorySlices": expected[3],
    }


def test_slices_of_models_without_mig_are_not_supported() -> None:
    for call in (lambda: stranded_slices("L4", []), lambda: free_memory_slices("RTX4090", [])):
        with pytest.raises(MigLayoutError) as caught:
            call()
        assert caught.value.code == MIG_NOT_SUPPORTED


# --- mig.config label names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "profiles", "expected"),
    [
        pytest.param("A100_80GB", ["1g.10gb"] * 7, "all-1g.10gb", id="all-1g"),
        pytest.param("A100_80GB", ["3g.40gb"] * 2, "all-3g.40gb", id="all-3g"),
        pytest.param("A100_80GB", ["7g.80gb"], "all-7g.80gb", id="all-7g"),
        pytest.param("A100_80GB", ["1g.10gb"] * 3, "custom-1g.10gb-x3", id="fewer-than-max"),
        pytest.param(
            "A100_80GB",
            ["4g.40gb", "1g.10gb", "2g.20gb"],
            "custom-1g.10gb-x1-2g.20gb-x1-4g.40gb-x1",
            id="sorted-by-size",
        ),
        pytest.param(
            "A100_80GB",
            ["1g.10gb", "2g.20gb", "1g.10gb"],
            "custom-1g.10gb-x2-2g.20gb-x1",
            id="counts",
        ),
        pytest.param(
            "A100_80GB",
            ["1g.20gb", "1g.10gb+me", "1g.10gb"],
            "custom-1g.10gb-x1-1g.10gb.me-x1-1g.20gb-x1",
            id="me-encoded",
        ),
        pytest.param("A100_80GB", ["1g.10gb+me"], "all-1g.10gb.me", id="all-me"),
        pytest.param(
            "A30_24GB", ["2g.12gb+me", "2g.12gb"], "custom-2g.12gb-x1-2g.12gb.me-x1", id="a30"
        ),
        pytest.param(
            "H200_141GB",
            ["2g.35gb", "1g.18gb+me", "1g.35gb", "1g.18gb", "1g.18gb"],
            "custom-1g.18gb-x2-1g.18gb.me-x1-1g.35gb-x1-2g.35gb-x1",
            id="h200-longest-kind",
        ),
    ],
)
def test_mig_config_names(model_id: str, profiles: list[str], expected: str) -> None:
    name = mig_config_name(model_id, profiles)
    assert name == expected
    assert is_valid_label_value(name)
    assert mig_config_name(model_id, list(reversed(profiles))) == name


def test_mig_config_name_validates_the_layout() -> None:
    with pytest.raises(MigLayoutError) as caught:
        mig_config_name("A100_80GB", ["1g.10gb"] * 8)
    assert caught.value.details["reason"] == "maxCount"
    with pytest.raises(MigLayoutError) as caught:
        mig_config_name("L4", ["1g.10gb"])
    assert caught.value.code == MIG_NOT_SUPPORTED


def test_every_valid_layout_gets_a_distinct_label_value() -> None:
    for model_id in MIG_MODELS:
        names: dict[str, Counter[str]] = {}
        for layout in _all_layouts(model_id):
            name = mig_config_name(model_id, layout)
            assert is_valid_label_value(name), name
            assert names.setdefault(name, Counter(layout)) == Counter(layout), name


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("all-1g.10gb", True),
        ("a", True),
        ("", False),
        ("-all", False),
        ("all.", False),
        ("1g.10gb+me", False),
        ("x" * 63, True),
        ("x" * 64, False),
    ],
)
def test_label_value_rules(value: str, valid: bool) -> None:
    assert is_valid_label_value(value) is valid


def test_long_names_are_shortened_with_a_hash() -> None:
    long_name = "custom-" + "-".join(f"1g.10gb-x{i}" for i in range(10))
    short = shorten_label_value(long_name)
    assert len(short) <= 63
    assert is_valid_label_value(short)
    assert short.startswith("custom-1g.10gb-x0-")
    assert shorten_label_value(long_name) == short
    assert shorten_label_value(long_name + "1") != short
    assert shorten_label_value("all-1g.10gb") == "all-1g.10gb"
    # A cut that would end on a separator drops it before the hash.
    cut = shorten_label_value("a" * 51 + "-" + "b" * 20)
    assert is_valid_label_value(cut)
    assert "--" not in cut


# --- mig-parted config and resources -----------------------------------------------------------


def test_mig_parted_config_shape() -> None:
    config = mig_parted_config(
        {
            "all-1g.10gb": [("all", ["1g.10gb"] * 7)],
            "custom-1g.10gb.me-x1-4g.40gb-x1": [
                ([0, 1], ["4g.40gb", "1g.10gb+me"]),
                ([2], []),
            ],
        }
    )
    assert config == {
        "version": "v1",
        "mig-configs": {
            "all-1g.10gb": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}],
            "custom-1g.10gb.me-x1-4g.40gb-x1": [
                {
                    "devices": [0, 1],
                    "mig-enabled": True,
                    "mig-devices": {"1g.10gb+me": 1, "4g.40gb": 1},
                },
                {"devices": [2], "mig-enabled": True, "mig-devices": {}},
            ],
        },
    }


def test_mig_parted_yaml_round_trips_in_documented_key_order() -> None:
    layouts = {
        "custom-1g.10gb-x2-2g.20gb-x1": [([0], ["2g.20gb", "1g.10gb", "1g.10gb"])],
    }
    text = mig_parted_yaml(layouts)
    assert text == (
        "version: v1\n"
        "mig-configs:\n"
        "  custom-1g.10gb-x2-2g.20gb-x1:\n"
        "  - devices:\n"
        "    - 0\n"
        "    mig-enabled: true\n"
        "    mig-devices:\n"
        "      1g.10gb: 2\n"
        "      2g.20gb: 1\n"
    )
    assert yaml.safe_load(text) == mig_parted_config(layouts)


@pytest.mark.parametrize(
    ("layouts", "reason"),
    [
        pytest.param({"bad+name": [("all", ["1g.10gb"])]}, "configName", id="plus-in-name"),
        pytest.param({"x" * 64: [("all", ["1g.10gb"])]}, "configName", id="too-long"),
        pytest.param({"empty": []}, "emptyConfig", id="no-entries"),
        pytest.param(
            {"c": [([0], ["1g.10gb"]), ([0], ["2g.20gb"])]}, "devices", id="repeated-device"
        ),
        pytest.param({"c": [([], ["1g.10gb"])]}, "devices", id="no-devices"),
        pytest.param({"c": [([-1], ["1g.10gb"])]}, "devices", id="negative-index"),
        pytest.param({"c": [("all", ["1g.10gb"]), ([1], [])]}, "devices", id="all-not-alone"),
        pytest.param({"c": [("some", ["1g.10gb"])]}, "devices", id="not-all"),
        pytest.param({"c": [([0], ["one-gig"])]}, "unknownProfile", id="bad-profile"),
    ],
)
def test_mig_parted_config_refuses_bad_input(
    layouts: dict[str, list[tuple[list[int] | str, list[str]]]], reason: str
) -> None:
    with pytest.raises(MigLayoutError) as caught:
        mig_parted_config(layouts)  # type: ignore[arg-type]
    assert caught.value.code == INVALID_PARAMETER
    assert caught.value.details["reason"] == reason


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("1g.10gb", "nvidia.com/mig-1g.10gb"),
        ("1g.10gb+me", "nvidia.com/mig-1g.10gb.me"),
        ("3g.71gb", "nvidia.com/mig-3g.71gb"),
        ("2g.12gb+me", "nvidia.com/mig-2g.12gb.me"),
        (profile_of("A100_40GB", "1g.5gb+me"), "nvidia.com/mig-1g.5gb.me"),
    ],
)
def test_resource_names(profile: str | MigProfile, expected: str) -> None:
    assert resource_name(profile) == expected


def test_resource_name_of_unknown_profile_is_refused() -> None:
    with pytest.raises(MigLayoutError) as caught:
        resource_name("9g.1tb")
    assert caught.value.details["reason"] == "unknownProfile"


# --- properties: random layouts against an independent brute force ------------------------------


def _rules_hold(model_id: str, instances: Sequence[Placement]) -> bool:
    """Counts, +me and compute budget for all instances on a GPU (no geometry)."""
    profiles = {p.name: p for p in mig_profiles(model_id)}
    counts = Counter(i.profile for i in instances)
    total_compute, _ = total_slices(model_id)
    return (
        all(counts[n] <= profiles[n].max_count for n in counts)
        and sum(1 for i in instances if i.profile.endswith("+me")) <= 1
        and sum(i.compute_slices for i in instances) <= total_compute
    )


def _geometry_holds(model_id: str, instances: Sequence[Placement]) -> bool:
    _, total_memory = total_slices(model_id)
    used: set[int] = set()
    for instance in instances:
        profile = profile_of(model_id, instance.profile)
        slices = set(range(instance.start, instance.end))
        if (
            instance.start not in profile.allowed_starts
            or instance.end > total_memory
            or (instance.memory_slices, instance.compute_slices)
            != (profile.memory_slices, profile.compute_slices)
            or used & slices
        ):
            return False
        used |= slices
    return True


def _brute_force_feasible(
    model_id: str, names: Sequence[str], existing: Sequence[Placement]
) -> bool:
    """Try every combination of allowed starts, in request order."""
    candidates = [
        [at(model_id, n, s) for s in profile_of(model_id, n).allowed_starts] for n in names
    ]
    return any(
        _rules_hold(model_id, [*existing, *combo])
        and _geometry_holds(model_id, [*existing, *combo])
        for combo in itertools.product(*candidates)
    )


def _random_existing(model_id: str, rng: random.Random) -> list[Placement]:
    """A random valid partial layout, placed at random allowed starts (not the lowest)."""
    existing: list[Placement] = []
    for _ in range(rng.randint(0, 4)):
        profile = rng.choice(mig_profiles(model_id))
        candidate = at(model_id, profile.name, rng.choice(profile.allowed_starts))
        if _rules_hold(model_id, [*existing, candidate]) and _geometry_holds(
            model_id, [*existing, candidate]
        ):
            existing.append(candidate)
    return existing


def _all_layouts(model_id: str) -> list[list[str]]:
    """Every multiset of profiles that fits an empty GPU of this model."""
    names = [p.name for p in mig_profiles(model_id)]
    layouts: list[list[str]] = []
    for size in range(1, 8):
        for combo in itertools.combinations_with_replacement(names, size):
            try:
                validate_layout(model_id, combo)
            except MigLayoutError:
                continue
            layouts.append(list(combo))
    return layouts


@pytest.mark.parametrize("model_id", MIG_MODELS)
def test_random_layouts_agree_with_brute_force(model_id: str) -> None:
    rng = random.Random(f"mig-{model_id}")
    names = [p.name for p in mig_profiles(model_id)]
    accepted = 0
    for _ in range(300):
        existing = _random_existing(model_id, rng)
        requested = [rng.choice(names) for _ in range(rng.randint(1, 7))]
        try:
            placements = validate_layout(model_id, requested, existing)
        except MigLayoutError as error:
            assert error.code == INVALID_PARAMETER
            placements = None
        if placements is not None:
            accepted += 1
            assert [p.profile for p in placements] == requested
            assert _rules_hold(model_id, [*existing, *placements])
            assert _geometry_holds(model_id, [*existing, *placements])
            stranded = stranded_slices(model_id, existing)
            assert not {s for p in placements for s in range(p.start, p.end)} & set(
                stranded["memorySlices"]
            )
            assert sum(p.compute_slices for p in placements) <= (
                stranded["freeComputeSlices"] - stranded["computeSlices"]
            )
        if len(requested) <= 4:
            assert _brute_force_feasible(model_id, requested, existing) == (
                placements is not None
            ), (
                requested,
                existing,
            )
    assert accepted >= 20  # the sample exercises acceptance as well as refusal


@pytest.mark.parametrize("model_id", MIG_MODELS)
def test_slices_not_stranded_can_be_used(model_id: str) -> None:
    rng = random.Random(f"stranded-{model_id}")
    _, total_memory = total_slices(model_id)
    for _ in range(200):
        existing = _random_existing(model_id, rng)
        stranded = stranded_slices(model_id, existing)
        used = {s for p in existing for s in range(p.start, p.end)}
        assert stranded["freeMemorySlices"] == sorted(set(range(total_memory)) - used)
        singles = [
            at(model_id, p.name, s)
            for p in mig_profiles(model_id)
            for s in p.allowed_starts
            if _rules_hold(model_id, [*existing, at(model_id, p.name, s)])
            and _geometry_holds(model_id, [*existing, at(model_id, p.name, s)])
        ]
        coverable = {s for p in singles for s in range(p.start, p.end)}
        assert stranded["memorySlices"] == sorted(set(stranded["freeMemorySlices"]) - coverable)
        if not singles:
            assert stranded["computeSlices"] == stranded["freeComputeSlices"]


# -- MIG on demand: the profile for a request and the layout around it ---------------------------


@pytest.mark.parametrize(
    ("model_id", "memory_gb", "profile", "layout"),
    [
        ("A100_80GB", 20, "2g.20gb", ["2g.20gb", "2g.20gb", "2g.20gb", "1g.20gb"]),
        ("A100_80GB", 10, "1g.10gb", ["1g.10gb"] * 7),
        ("A100_80GB", 11, "2g.20gb", ["2g.20gb", "2g.20gb", "2g.20gb", "1g.20gb"]),
        ("A100_80GB", 40, "3g.40gb", ["3g.40gb", "3g.40gb"]),
        ("A100_80GB", 41, "7g.80gb", ["7g.80gb"]),
        ("A100_40GB", 20, "3g.20gb", ["3g.20gb", "3g.20gb"]),
        ("H100_80GB", 5, "1g.10gb", ["1g.10gb"] * 7),
        ("H200_141GB", 30, "2g.35gb", ["2g.35gb", "2g.35gb", "2g.35gb", "1g.35gb"]),
        ("A30_24GB", 6, "1g.6gb", ["1g.6gb"] * 4),
        ("A30_24GB", 12, "2g.12gb", ["2g.12gb", "2g.12gb"]),
    ],
)
def test_on_demand_profile_and_layout(
    model_id: str, memory_gb: float, profile: str, layout: list[str]
) -> None:
    chosen = on_demand_profile(model_id, memory_gb)
    assert chosen is not None and chosen.name == profile
    placements = on_demand_layout(model_id, profile)
    assert placements[0].profile == profile
    assert [p.profile for p in placements] == layout
    # The result is a valid layout and leaves no slice a further instance could use.
    names = [p.profile for p in placements]
    assert validate_layout(model_id, names) == placements
    stranded = stranded_slices(model_id, placements)
    assert stranded["freeComputeSlices"] == stranded["computeSlices"]


def test_on_demand_has_nothing_beyond_the_gpu_or_without_mig() -> None:
    assert on_demand_profile("A100_80GB", 81) is None
    with pytest.raises(MigLayoutError) as caught:
        on_demand_profile("RTX4090", 10)
    assert caught.value.code == MIG_NOT_SUPPORTED


def test_node_configs_turn_mig_off_and_read_back() -> None:
    config = mig_parted_config({"node": [([0], ["2g.20gb", "1g.20gb"]), ([1, 2], None)]})
    entries = config["mig-configs"]["node"]  # type: ignore[index]
    assert entries[1] == {"devices": [1, 2], "mig-enabled": False}
    parsed = yaml.safe_load(mig_parted_yaml({"node": [([0], ["2g.20gb"] * 2), ([1], None)]}))
    assert mig_parted_layouts(parsed, "node") == {0: ["2g.20gb", "2g.20gb"], 1: None}
    with pytest.raises(KeyError):
        mig_parted_layouts(parsed, "other")
