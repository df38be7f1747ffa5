"""Attribution: device ids to GPUs/MIG instances, host pids to containers, usage per container."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.attribution import (
    index_pods_by_name,
    index_pods_by_uid,
    pod_usage,
    resolve_allocations,
)
from exporter.procfs import container_of_pid, containers_of_pids
from exporter.snapshot import (
    DeviceIdentity,
    DeviceSample,
    MigInstanceSample,
    PodAllocation,
    PodDevice,
    PodInfo,
    PodUsage,
    ProcessSample,
)

GPU0 = "GPU-0a0a0a0a-0000-4000-8000-000000000000"
GPU1 = "GPU-1b1b1b1b-0000-4000-8000-000000000001"
MIG_A = "MIG-aaaaaaaa-0000-4000-8000-00000000000a"
MIG_B = "MIG-bbbbbbbb-0000-4000-8000-00000000000b"
MIG_C = "MIG-cccccccc-0000-4000-8000-00000000000c"

UID = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
CID = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
OTHER_UID = "11111111-2222-4333-8444-555555555555"
OTHER_CID = "a" * 64


def identity(index: int, uuid: str) -> DeviceIdentity:
    return DeviceIdentity(
        index=index,
        uuid=uuid,
        name="NVIDIA H100 80GB HBM3",
        serial=f"165322000000{index}",
        pci_bus_id=f"00000000:{0x18 + index:02X}:00.0",
        vbios_version="96.00.74.00.0D",
        architecture="hopper",
    )


DEVICES = [
    DeviceSample(identity(0, GPU0), up=True),
    DeviceSample(
        identity(1, GPU1),
        up=True,
        mig_enabled=True,
        mig_instances=(
            MigInstanceSample(MIG_A, 3, 0, "3g.40gb", None, None),
            # Two compute instances sharing GPU instance 5.
            MigInstanceSample(MIG_C, 5, 1, "1c.2g.20gb", None, None),
            MigInstanceSample(MIG_B, 5, 0, "1c.2g.20gb", None, None),
        ),
    ),
]


def running(namespace: str, name: str, phase: str = "Running") -> PodInfo:
    return PodInfo(namespace, name, uid=f"uid-{name}", phase=phase, node_name="n1")


def resolve(
    *device_ids: str,
    resource: str = "nvidia.com/gpu",
    pods: dict[tuple[str, str], PodInfo] | None = None,
) -> tuple[list[PodAllocation], int]:
    pod_devices = [PodDevice("ns", "p", "c", resource, device_id) for device_id in device_ids]
    return resolve_allocations(pod_devices, DEVICES, pods)


def targets(allocations: list[PodAllocation]) -> list[tuple[int, str | None, str, int | None]]:
    return [(a.gpu_index, a.mig_uuid, a.sharing, a.replica) for a in allocations]


# -- device ids to devices ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device_id", "expected"),
    [
        (GPU0, [(0, None, "exclusive", None)]),
        (GPU0.upper(), [(0, None, "exclusive", None)]),
        ("1", [(1, None, "exclusive", None)]),
        ("nvidia0", [(0, None, "exclusive", None)]),
        (f"{GPU0}::4", [(0, None, "shared", 4)]),
        ("nvidia0/vgpu1", [(0, None, "shared", 1)]),
        (MIG_A, [(1, MIG_A, "exclusive", None)]),
        (f"{MIG_A}::1", [(1, MIG_A, "shared", 1)]),
        (f"MIG-GPU-{GPU1[4:]}/3/0", [(1, MIG_A, "exclusive", None)]),
        (f"MIG-GPU-{GPU1[4:]}/5/1", [(1, MIG_C, "exclusive", None)]),
        # GKE names the GPU instance: both of its compute instances, in compute-instance order.
        ("nvidia1/gi5", [(1, MIG_B, "exclusive", None), (1, MIG_C, "exclusive", None)]),
    ],
)
def test_each_id_form_resolves_to_its_device(
    device_id: str, expected: list[tuple[int, str | None, str, int | None]]
) -> None:
    allocations, unresolved = resolve(device_id)
    assert targets(allocations) == expected
    assert unresolved == 0


def test_shared_resource_names_mark_sharing_without_a_replica() -> None:
    allocations, _ = resolve(GPU0, resource="nvidia.com/gpu.shared")
    assert targets(allocations) == [(0, None, "shared", None)]


@pytest.mark.parametrize(
    "device_id",
    [
        "GPU-ffffffff-0000-4000-8000-000000000000",  # not on this node
        "7",
        "nvidia9",
        "MIG-dddddddd-0000-4000-8000-00000000000d",
        f"MIG-GPU-{GPU1[4:]}/9/0",
        "nvidia1/gi9",
        "nvidia0/gi1",  # GPU 0 has no MIG instances
        "not a device id",
    ],
)
def test_unresolvable_ids_are_counted_not_raised(device_id: str) -> None:
    assert resolve(device_id, GPU0) == (
        [PodAllocation("ns", "p", "c", "nvidia.com/gpu", 0, GPU0, None, "exclusive")],
        1,
    )


def test_finished_and_vanished_pods_are_dropped_when_phases_are_known() -> None:
    pod_devices = [
        PodDevice("ns", "done", "c", "nvidia.com/gpu", GPU0),
        PodDevice("ns", "failed", "c", "nvidia.com/gpu", GPU0),
        PodDevice("ns", "gone", "c", "nvidia.com/gpu", "bogus"),
        PodDevice("ns", "starting", "c", "nvidia.com/gpu", GPU1),
        PodDevice("ns", "serving", "c", "nvidia.com/gpu", GPU0),
    ]
    pods = index_pods_by_name(
        [
            running("ns", "done", "Succeeded"),
            running("ns", "failed", "Failed"),
            running("ns", "starting", "Pending"),
            running("ns", "serving"),
        ]
    )
    allocations, unresolved = resolve_allocations(pod_devices, DEVICES, pods)
    assert [(a.pod, a.gpu_index) for a in allocations] == [("serving", 0), ("starting", 1)]
    assert unresolved == 0  # the vanished pod's bad id is not this node's problem


def test_output_is_sorted_and_free_of_duplicates() -> None:
    pod_devices = [
        PodDevice("b", "p", "c", "nvidia.com/gpu", GPU1),
        PodDevice("a", "p", "c2", "nvidia.com/gpu", GPU0),
        PodDevice("a", "p", "c1", "nvidia.com/gpu", "nvidia1"),
        PodDevice("a", "p", "c1", "nvidia.com/gpu", GPU1),  # the same GPU named twice
        PodDevice("a", "p", "c1", "nvidia.com/gpu", GPU0),
    ]
    allocations, _ = resolve_allocations(pod_devices, DEVICES, None)
    assert [(a.namespace, a.container, a.gpu_index) for a in allocations] == [
        ("a", "c1", 0),
        ("a", "c1", 1),
        ("a", "c2", 0),
        ("b", "c", 1),
    ]
    assert allocations == resolve_allocations(list(reversed(pod_devices)), DEVICES, None)[0]


# -- usage per container ---------------------------------------------------------------------


def test_usage_is_summed_per_container_and_device_and_split_between_sharers() -> None:
    vllm = PodInfo(
        "serving", "vllm-0", UID, "Running", "n1", container_ids={"vllm": CID, "proxy": "b" * 64}
    )
    other = PodInfo("team", "nb-0", OTHER_UID, "Running", "n1", container_ids={"nb": OTHER_CID})
    processes = [
        ProcessSample(101, GPU0, None, 10 << 30, 0.5),
        ProcessSample(102, GPU0, None, 2 << 30, 0.25),  # same container, same GPU
        ProcessSample(103, GPU0, None, 1 << 30, None),  # shares GPU0 with another pod
        ProcessSample(104, GPU1, MIG_A, 5 << 30, None),
        ProcessSample(105, GPU0, None, 7 << 30, 0.9),  # not in a pod
        ProcessSample(106, GPU0, None, 3 << 30, 0.8),  # a pod we do not know
        ProcessSample(107, GPU1, MIG_B, None, None),  # memory unknown
        ProcessSample(108, GPU1, MIG_B, 1 << 20, None),  # container restarted: id not listed
    ]
    pid_to_container = {
        101: (UID, CID),
        102: (UID, CID),
        103: (OTHER_UID, OTHER_CID),
        104: (UID, CID),
        106: ("99999999-0000-4000-8000-000000000000", "c" * 64),
        107: (OTHER_UID, OTHER_CID),
        108: (OTHER_UID, "d" * 64),
    }
    usage = pod_usage(processes, pid_to_container, index_pods_by_uid([vllm, other]))
    assert usage == [
        PodUsage("serving", "vllm-0", "vllm", GPU0, None, 12 << 30, 0.75),
        PodUsage("serving", "vllm-0", "vllm", GPU1, MIG_A, 5 << 30, None),
        PodUsage("team", "nb-0", "", GPU1, MIG_B, 1 << 20, None),
        PodUsage("team", "nb-0", "nb", GPU0, None, 1 << 30, None),
        PodUsage("team", "nb-0", "nb", GPU1, MIG_B, 0, None),
    ]


def test_utilisation_is_capped_at_one() -> None:
    pod = PodInfo("ns", "p", UID, "Running", "n1", container_ids={"c": CID})
    processes = [ProcessSample(1, GPU0, None, 0, 0.7), ProcessSample(2, GPU0, None, 0, 0.6)]
    usage = pod_usage(processes, {1: (UID, CID), 2: (UID, CID)}, {UID: pod})
    assert [u.sm_utilization_ratio for u in usage] == [1.0]


# -- host pids to pod containers -------------------------------------------------------------

UID_SYSTEMD = UID.replace("-", "_")

CGROUP_FILES = {
    "v2 systemd containerd": (
        f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_SYSTEMD}.slice/"
        f"cri-containerd-{CID}.scope\n"
    ),
    "v2 systemd guaranteed cri-o": (
        f"0::/kubepods.slice/kubepods-pod{UID_SYSTEMD}.slice/crio-{CID}.scope\n"
    ),
    "v2 systemd besteffort docker": (
        f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_SYSTEMD}.slice/"
        f"docker-{CID}.scope\n"
    ),
    "v2 cgroupfs": f"0::/kubepods/burstable/pod{UID}/{CID}\n",
    "v2 cgroup namespace relative": (
        f"0::/../../kubepods-burstable-pod{UID_SYSTEMD}.slice/cri-containerd-{CID}.scope\n"
    ),
    "v2 kind nested": (
        "0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
        f"kubelet-kubepods-besteffort-pod{UID_SYSTEMD}.slice/cri-containerd-{CID}.scope\n"
    ),
    "v2 systemd inside the container": (
        f"0::/kubepods.slice/kubepods-pod{UID_SYSTEMD}.slice/cri-containerd-{CID}.scope/"
        "system.slice/model.service\n"
    ),
    "v1 cgroupfs": "\n".join(
        [
            f"12:memory:/kubepods/burstable/pod{UID}/{CID}",
            f"11:devices:/kubepods/burstable/pod{UID}/{CID}",
            f"4:cpu,cpuacct:/kubepods/burstable/pod{UID}/{CID}",
            f"1:name=systemd:/kubepods/burstable/pod{UID}/{CID}",
            "0::/",
        ]
    ),
    "v1 cgroupfs guaranteed": f"7:pids:/kubepods/pod{UID}/{CID}\n",
    "v1 systemd": "\n".join(
        [
            "13:misc:/",
            "12:memory:/kubepods.slice/kubepods-burstable.slice/"
            f"kubepods-burstable-pod{UID_SYSTEMD}.slice/cri-containerd-{CID}.scope",
            "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/"
            f"kubepods-burstable-pod{UID_SYSTEMD}.slice/cri-containerd-{CID}.scope",
        ]
    ),
}

NOT_IN_A_CONTAINER = {
    "host process v2": "0::/system.slice/containerd.service\n",
    "host session v1": "12:memory:/user.slice/user-0.slice/session-3.scope\n1:name=systemd:/\n",
    "pod-level cgroup": f"0::/kubepods.slice/kubepods-pod{UID_SYSTEMD}.slice\n",
    "cri-o conmon": f"0::/kubepods.slice/kubepods-pod{UID_SYSTEMD}.slice/crio-conmon-{CID}.scope\n",
    "empty": "",
}


def write_cgroup(proc_root: Path, pid: int, text: str) -> None:
    (proc_root / str(pid)).mkdir(parents=True)
    (proc_root / str(pid) / "cgroup").write_text(text)


@pytest.mark.parametrize("layout", sorted(CGROUP_FILES))
def test_container_of_pid_reads_every_cgroup_layout(tmp_path: Path, layout: str) -> None:
    write_cgroup(tmp_path, 4242, CGROUP_FILES[layout])
    assert container_of_pid(tmp_path, 4242) == (UID, CID)


@pytest.mark.parametrize("case", sorted(NOT_IN_A_CONTAINER))
def test_processes_outside_pod_containers_have_no_owner(tmp_path: Path, case: str) -> None:
    write_cgroup(tmp_path, 17, NOT_IN_A_CONTAINER[case])
    assert container_of_pid(tmp_path, 17) is None


def test_a_vanished_pid_has_no_owner(tmp_path: Path) -> None:
    assert container_of_pid(tmp_path, 999999) is None


def test_many_pids_map_to_their_containers(tmp_path: Path) -> None:
    write_cgroup(tmp_path, 1, NOT_IN_A_CONTAINER["host process v2"])
    write_cgroup(tmp_path, 2, CGROUP_FILES["v2 cgroupfs"])
    write_cgroup(tmp_path, 3, f"0::/kubepods/besteffort/pod{OTHER_UID}/{OTHER_CID}\n")
    assert containers_of_pids(tmp_path, [1, 2, 3, 4]) == {
        2: (UID, CID),
        3: (OTHER_UID, OTHER_CID),
    }
