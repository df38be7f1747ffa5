"""Mapping a host pid to its Kubernetes pod and container through ``/proc/<pid>/cgroup``.

Needs the host's /proc (``hostPID: true``); ``proc_root`` is a parameter so tests read files
written to a temp dir. Understood layouts, cgroup v1 and v2 alike::

    cgroupfs driver  .../kubepods/burstable/pod<uid>/<container id>
                     .../kubepods/pod<uid>/<container id>                 (Guaranteed QoS)
    systemd driver   .../kubepods-burstable-pod<uid, "_" for "-">.slice/cri-containerd-<id>.scope
                     (also docker-<id>.scope, crio-<id>.scope, containerd-<id>.scope)

The path is searched anywhere in the line, so nested hierarchies (kind's
``/kubelet.slice/kubelet-kubepods.slice/...``) and cgroup-namespace-relative paths
(``0::/../../kubepods-...``) work too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_HEX = "[0-9a-fA-F]"
# Dashed (cgroupfs) or underscored (systemd) UUID; static pods use a 32-hex config hash.
_POD_SEGMENT = re.compile(
    rf"^(?:[a-z0-9]+-)*pod"  # "pod", "kubepods-burstable-pod", "kubelet-kubepods-pod"
    rf"(?P<uid>{_HEX}{{8}}[-_]{_HEX}{{4}}[-_]{_HEX}{{4}}[-_]{_HEX}{{4}}[-_]{_HEX}{{12}}|{_HEX}{{32}})"
    rf"(?:\.slice)?$"
)
_CONTAINER_SEGMENT = re.compile(
    r"^(?:(?:cri-containerd|containerd|docker|crio|cri-o)-)?(?P<id>[0-9a-fA-F]{12,128})(?:\.scope)?$"
)


def container_of_pid(proc_root: Path, pid: int) -> tuple[str, str] | None:
    """(pod uid with dashes, container id) for ``pid``, or None.

    None when the process has exited, cannot be read, or does not run in a pod container
    (host processes, the pod-level cgroup itself, CRI-O's conmon).
    """
    try:
        text = (proc_root / str(pid) / "cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:  # vanished between NVML's answer and now, or not permitted
        return None
    return parse_cgroup(text)


def containers_of_pids(proc_root: Path, pids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """:func:`container_of_pid` for many pids, keeping only those that are in a pod."""
    found: dict[int, tuple[str, str]] = {}
    for pid in pids:
        owner = container_of_pid(proc_root, pid)
        if owner is not None:
            found[pid] = owner
    return found


def parse_cgroup(text: str) -> tuple[str, str] | None:
    """(pod uid, container id) from the contents of a ``/proc/<pid>/cgroup`` file."""
    for line in text.splitlines():
        # "hierarchy-id:controllers:path"; the path itself may contain ":" in theory.
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        owner = _parse_path(parts[2].strip())
        if owner is not None:
            return owner
    return None


def _parse_path(path: str) -> tuple[str, str] | None:
    segments = [s for s in path.split("/") if s]
    for i, segment in enumerate(segments):
        pod = _POD_SEGMENT.match(segment)
        if pod is None:
            continue
        if i + 1 >= len(segments):
            return None  # the pod-level cgroup: no container
        container = _CONTAINER_SEGMENT.match(segments[i + 1])
        if container is None:
            return None
        return pod["uid"].replace("_", "-").lower(), container["id"].lower()
    return None
