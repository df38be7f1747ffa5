"""Read an oci-archive and run its root filesystem in a chroot, the tests' stand-in for a runtime.

Written from the OCI image specification (image-layout, manifest, config), not from
scripts/images.py: the tests read the archives the way a registry or a runtime does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class OciImage:
    """One image of an oci-archive: its index entry, manifest, config and layer blobs."""

    path: Path
    index: dict[str, Any]
    manifest: dict[str, Any]
    config: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> OciImage:
        with tarfile.open(path) as archive:
            layout = json.loads(_member(archive, "oci-layout"))
            assert layout == {"imageLayoutVersion": "1.0.0"}
            index = json.loads(_member(archive, "index.json"))
            (entry,) = index["manifests"]
            manifest = json.loads(_blob(archive, entry))
            config = json.loads(_blob(archive, manifest["config"]))
        return cls(path, index, manifest, config)

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in self.manifest["layers"]]

    def verify_layers(self) -> None:
        """Every layer blob has its descriptor's size and digest, and decompresses to the
        config's diff id."""
        diff_ids = self.config["rootfs"]["diff_ids"]
        assert len(diff_ids) == len(self.manifest["layers"])
        with tarfile.open(self.path) as archive:
            for descriptor, diff_id in zip(self.manifest["layers"], diff_ids, strict=True):
                assert descriptor["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
                data = _blob(archive, descriptor)
                assert "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest() == diff_id

    def unpack(self, rootfs: Path) -> None:
        """The layers extracted in order into ``rootfs``, owners kept (we are root)."""
        rootfs.mkdir(parents=True)
        with tarfile.open(self.path) as archive:
            for descriptor in self.manifest["layers"]:
                member = archive.extractfile(_blob_name(descriptor))
                assert member is not None
                with subprocess.Popen(
                    ["tar", "--extract", "--gzip", "--numeric-owner", "--directory", str(rootfs)],
                    stdin=subprocess.PIPE,
                ) as tar:
                    assert tar.stdin is not None
                    shutil.copyfileobj(member, tar.stdin, 1 << 20)
                    tar.stdin.close()
                assert tar.returncode == 0


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    assert member is not None, name
    return member.read()


def _blob_name(descriptor: dict[str, Any]) -> str:
    algorithm, _, digest = descriptor["digest"].partition(":")
    return f"blobs/{algorithm}/{digest}"


def _blob(archive: tarfile.TarFile, descriptor: dict[str, Any]) -> bytes:
    data = _member(archive, _blob_name(descriptor))
    assert len(data) == descriptor["size"]
    assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]
    return data


def chroot_command(
    rootfs: Path,
    argv: list[str],
    *,
    user: str,
    env: dict[str, str],
    writable: dict[str, Path],
) -> list[str]:
    """``argv`` run as ``user`` in ``rootfs`` the way the chart runs the containers: a read-only
    root, a fresh /tmp, ``writable`` host directories at their paths, the host's network; in a
    private mount namespace, so every mount goes with the process."""
    for directory in ("proc", "dev", "tmp", *(path.lstrip("/") for path in writable)):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    root = shlex.quote(str(rootfs))
    steps = [
        f"mount --bind {root} {root}",
        f"mount -o remount,bind,ro {root}",
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
        f"mount -t tmpfs -o mode=1777 tmpfs {root}/tmp",
        *(f"mount --bind {shlex.quote(str(host))} {root}{path}" for path, host in writable.items()),
        " ".join(
            [
                "exec chroot",
                f"--userspec={user}",
                root,
                "/usr/bin/env -i",
                *(shlex.quote(f"{key}={value}") for key, value in env.items()),
                *map(shlex.quote, argv),
            ]
        ),
    ]
    return ["unshare", "--mount", "--fork", "--kill-child", "sh", "-euc", " && ".join(steps)]


def image_env(config: dict[str, Any]) -> dict[str, str]:
    """The image's environment, as a runtime sets it."""
    env = dict(item.split("=", 1) for item in config["config"].get("Env", []))
    env.setdefault("PATH", CHROOT_PATH)
    env.setdefault("HOME", "/")
    return env


def running_as(pid: int) -> tuple[int, int]:
    """The real uid and gid of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    uid = next(line for line in status.splitlines() if line.startswith("Uid:"))
    gid = next(line for line in status.splitlines() if line.startswith("Gid:"))
    return int(uid.split()[1]), int(gid.split()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def is_root() -> bool:
    return os.geteuid() == 0
