"""Fleet YAML: identities, MIG placement and validation errors that say where and why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpucatalog import MigLayoutError, validate_layout
from simulator.fleet import FleetError, load_fleet, parse_duration, parse_fleet

from .conftest import DEMO, EPOCH, SMALL

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def small_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SMALL.read_text())
    return data


class TestIdentities:
    def test_demo_fleet_has_the_seeds_cluster(self) -> None:
        fleet = load_fleet(DEMO)
        assert [n.name for n in fleet.nodes] == [f"gpu-worker-{i}" for i in (1, 2, 3, 4)]
        models = [g.model.model_id for n in fleet.nodes for g in n.gpus]
        assert (models.count("A100_80GB"), models.count("H100_80GB")) == (16, 8)
        assert models.count("RTX4090") == 8
        layouts = [
            [i.profile.name for i in g.mig_instances]
            for n in fleet.nodes
            for g in n.gpus
            if g.mig_enabled
        ]
        assert ["1g.10gb", "2g.20gb", "4g.40gb"] in layouts
        assert ["1g.10gb"] * 7 in layouts
        assert all(n.driver_version.startswith("550.") for n in fleet.nodes)

    def test_identities_have_nvml_shapes(self) -> None:
        fleet = load_fleet(DEMO)
        gpus = [g for n in fleet.nodes for g in n.gpus]
        for gpu in gpus:
            assert re.fullmatch(f"GPU-{UUID4}", gpu.uuid)
            assert re.fullmatch(r"0{8}:[0-9A-F]{2}:00\.0", gpu.pci_bus_id)
            assert re.fullmatch(r"1\d{12}", gpu.serial)
            assert re.fullmatch(
                r"9\d\.0\d\.[0-9A-F]{2}\.[0-9A-F]{2}\.[0-9A-F]{2}", gpu.vbios_version
            )
            for instance in gpu.mig_instances:
                assert re.fullmatch(f"MIG-{UUID4}", instance.uuid)
        assert len({g.uuid for g in gpus}) == len(gpus)
        pods = [p for n in fleet.nodes for p in n.pods]
        assert all(re.fullmatch(UUID4, p.uid) for p in pods)
        assert len({p.uid for p in pods}) == len(pods)

    def test_identities_are_deterministic_and_follow_the_seed(self) -> None:
        first, second = load_fleet(SMALL), load_fleet(SMALL)
        assert first == second
        data = small_data()
        data["seed"] = 8
        other = parse_fleet(data)
        assert other.nodes[0].gpus[0].uuid != first.nodes[0].gpus[0].uuid

    def test_given_identity_wins(self) -> None:
        data = small_data()
        data["nodes"][0]["gpus"][1].update(
            uuid="GPU-12345678-1234-4234-8234-123456789abc", serial="1650000000001"
        )
        gpu = parse_fleet(data).nodes[0].gpus[1]
        assert (gpu.uuid, gpu.serial) == (
            "GPU-12345678-1234-4234-8234-123456789abc",
            "1650000000001",
        )

    def test_epoch_and_pids(self) -> None:
        fleet = load_fleet(SMALL)
        assert fleet.epoch_seconds == EPOCH
        assert fleet.epoch.isoformat() == "2026-01-01T00:00:00+00:00"
        running = [
            c.pid for p in fleet.nodes[0].pods if p.running for c in p.containers if c.devices
        ]
        assert running == [20000, 20001, 20002, 20003, 20004]
        finished = next(p for p in fleet.nodes[0].pods if p.phase == "Succeeded")
        assert finished.containers[0].pid is None


def gpu_zero(model: str, layout: list[str]) -> dict[str, Any]:
    """small.yaml with GPU 0 of ``model`` in ``layout`` and no pods (none holds its slots)."""
    data = small_data()
    data["nodes"][0]["gpus"][0] = {"model": model, "mig": layout}
    data["nodes"][0]["pods"] = []
    return data


class TestMigPlacement:
    def test_reference_layout_is_placed_largest_first(self) -> None:
        gpu = parse_fleet(gpu_zero("A100_80GB", ["1g.10gb", "2g.20gb", "4g.40gb"])).nodes[0].gpus[0]
        assert [(i.profile.name, i.start_slice) for i in gpu.mig_instances] == [
            ("1g.10gb", 6),
            ("2g.20gb", 4),
            ("4g.40gb", 0),
        ]

    def test_nvml_gpu_instance_ids(self) -> None:
        gpu = load_fleet(SMALL).nodes[0].gpus[0]
        assert [(i.gpu_instance_id, i.compute_instance_id) for i in gpu.mig_instances] == [
            (13, 0),
            (5, 0),
            (1, 0),
        ]

    def test_placement_is_the_catalogues(self) -> None:
        # The analytics service plans layouts with the same function: both agree on the slices.
        layout = ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"]
        gpu = parse_fleet(gpu_zero("A100_80GB", layout)).nodes[0].gpus[0]
        assert [(i.profile.name, i.start_slice) for i in gpu.mig_instances] == [
            (p.profile, p.start) for p in validate_layout("A100_80GB", layout)
        ]

    def test_an_empty_layout_is_mig_mode_without_instances(self) -> None:
        gpu = parse_fleet(gpu_zero("A100_80GB", [])).nodes[0].gpus[0]
        assert (gpu.mig_enabled, gpu.mig_instances) == (True, ())

    @pytest.mark.parametrize(
        "layout",
        [
            ["3g.40gb", "2g.20gb", "2g.20gb"],
            ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"],
            ["1g.20gb", "1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb"],
        ],
    )
    def test_backtracking_finds_placements_first_fit_misses(self, layout: list[str]) -> None:
        gpu = parse_fleet(gpu_zero("A100_80GB", layout)).nodes[0].gpus[0]
        placed = [(i.profile, i.start_slice) for i in gpu.mig_instances]
        assert [p.name for p, _start in placed] == layout
        used = [s for p, start in placed for s in range(start, start + p.memory_slices)]
        assert len(used) == len(set(used))
        assert all(start in p.allowed_starts for p, start in placed)

    @pytest.mark.parametrize(
        ("model", "layout", "reason"),
        [
            ("A100_80GB", ["1g.10gb"] * 8, "maxCount"),
            ("A100_40GB", ["3g.20gb", "3g.20gb", "1g.5gb"], "memorySlices"),
            ("A100_80GB", ["1g.5gb"], "unknownProfile"),
            ("RTX4090", ["1g.10gb"], "migNotSupported"),
            ("RTX4090", [], "migNotSupported"),
            ("A100_80GB", ["4g.40gb", "4g.40gb"], "maxCount"),
            ("A100_80GB", ["4g.40gb", "3g.40gb", "1g.10gb"], "computeBudget"),
            ("A100_80GB", ["1g.20gb"] * 4 + ["1g.10gb"], "memorySlices"),
        ],
    )
    def test_invalid_layouts_are_the_catalogues_errors_at_the_gpu(
        self, model: str, layout: list[str], reason: str
    ) -> None:
        with pytest.raises(MigLayoutError) as caught:
            validate_layout(model, layout, allow_empty=True)
        assert caught.value.details["reason"] == reason
        with pytest.raises(FleetError) as error:
            parse_fleet(gpu_zero(model, layout), source="small.yaml")
        assert str(error.value) == f"small.yaml: nodes[0].gpus[0].mig: {caught.value}"

    def test_layout_error_names_the_gpu_in_the_file(self) -> None:
        data = small_data()
        data["nodes"][0]["gpus"][0]["mig"] = ["1g.10gb"] * 8
        with pytest.raises(
            FleetError, match=r"nodes\[0\]\.gpus\[0\]\.mig: .*1g\.10gb: 8 requested .* > max 7"
        ):
            parse_fleet(data, source="small.yaml")


class TestValidation:
    def test_broken_yaml_reports_file_and_line(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.yaml"
        path.write_text("seed: 1\nnodes:\n  - name: [unclosed\n")
        with pytest.raises(FleetError, match=r"broken\.yaml: not valid YAML at line \d+"):
            load_fleet(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(FleetError, match="cannot read the fleet file"):
            load_fleet(tmp_path / "absent.yaml")

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (lambda d: d["nodes"][0]["gpus"][1].update(model="B300"), "unknown GPU model 'B300'"),
            (lambda d: d["nodes"][0]["gpus"][1].update(colour="red"), "unknown key(s) 'colour'"),
            (lambda d: d.pop("epoch"), "fleet: 'epoch' is required"),
            (lambda d: d.update(epoch="yesterday"), "is not an ISO time"),
            (
                lambda d: d["nodes"][0]["events"][0].update(at="an hour"),
                "'an hour' is not a duration",
            ),
            (lambda d: d["nodes"][0]["events"][0].update(gpu=9), "GPU 9 does not exist"),
            (
                lambda d: d["nodes"][0]["events"][1].update(every="5m"),
                "does not fit in a period",
            ),
            (
                lambda d: d["nodes"][0]["events"][0].update(delta_c=3),
                "delta_c do(es) not apply to a xid event",
            ),
            (
                lambda d: d["nodes"][0]["pods"][1]["containers"][0].update(mig=[[0, 3]]),
                "has MIG slots 0..2, not 3",
            ),
            (
                lambda d: d["nodes"][0]["pods"][1]["containers"][0].update(mig=[[0, 2]]),
                "MIG slot 2 of GPU 0 is already held by development/jupyter-alice-0/notebook",
            ),
            (
                lambda d: d["nodes"][0]["pods"][0]["containers"][0].update(gpus=[0]),
                "GPU 0 is in MIG mode; hold its MIG slots",
            ),
            (
                lambda d: d["nodes"][0]["pods"][0]["containers"][0].update(replicas=[[1, 0]]),
                "GPU 1 is not time-sliced",
            ),
            (
                lambda d: d["nodes"][0]["pods"][0].update(gpu_memory_gib=200),
                "gpu_memory_gib 200 exceeds the 80 GiB of H100_80GB",
            ),
            (lambda d: d["nodes"][0]["pods"][0].update(phase="Sleeping"), "'Sleeping' is not one"),
            (lambda d: d["nodes"][0]["pods"][0].update(containers=[]), "at least one container"),
            (
                lambda d: d["nodes"][0]["pods"][0]["containers"][0].update(gpus=["zero"]),
                "expected a GPU index",
            ),
        ],
    )
    def test_bad_descriptions_say_where_and_why(self, edit: Any, message: str) -> None:
        data = small_data()
        edit(data)
        with pytest.raises(FleetError, match=re.escape(message)) as error:
            parse_fleet(data, source="small.yaml")
        assert str(error.value).startswith("small.yaml: ")

    def test_finished_pods_may_reuse_a_device(self) -> None:
        node = load_fleet(SMALL).nodes[0]
        holders = [
            p.name
            for p in node.pods
            if any(d.gpu_index == 1 for c in p.containers for d in c.devices)
        ]
        assert len(holders) == 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90m", 5400), ("2h30m", 9000), ("3d", 259200), ("1d12h", 129600), (30, 30)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "h", "-5m", True, -3])
def test_bad_durations(text: object) -> None:
    with pytest.raises(FleetError):
        parse_duration(text)


def test_a_zero_period_is_an_error() -> None:
    data = small_data()
    data["nodes"][0]["events"][0]["every"] = 0
    with pytest.raises(FleetError, match="the period must be positive"):
        parse_fleet(data)
