"""Write an oci-archive (a tar of an OCI image layout) from layer tarballs and an image config.

The same inputs give the same bytes: layers are compressed without a name or time in the gzip
header, JSON is written with sorted keys, and the archive's entries are in a fixed order with one
given time. Format: the OCI image specification's image-layout, manifest and config documents
(github.com/opencontainers/image-spec); skopeo, podman and registries read the result.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Blob:
    """A content-addressed file of the layout."""

    media_type: str
    digest: str  # sha256, hex
    size: int
    path: Path

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": f"sha256:{self.digest}", "size": self.size}


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def gzip_layer(layer: Path) -> tuple[Blob, str]:
    """The layer tarball compressed next to it (kept: a cache), as a blob, and its diff id (the
    uncompressed tarball's sha256)."""
    compressed = layer.with_suffix(".tar.gz")
    if not compressed.exists():
        partial = compressed.with_suffix(".partial")
        with (
            layer.open("rb") as raw,
            partial.open("wb") as out,
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz,
        ):
            shutil.copyfileobj(raw, gz, _CHUNK)
        partial.rename(compressed)
    blob = Blob(LAYER_MEDIA_TYPE, _sha256(compressed), compressed.stat().st_size, compressed)
    return blob, _sha256(layer)


def write_archive(
    layers: Sequence[Path], config: dict[str, Any], ref_name: str, output: Path, epoch: int
) -> None:
    """``output``: one image of ``layers`` (bottom first) and ``config`` (an image config
    without `rootfs`, which is filled in from the layers), named ``ref_name`` in the index."""
    compressed = [gzip_layer(layer) for layer in layers]
    config = {
        **config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff}" for _, diff in compressed]},
    }
    with tempfile.TemporaryDirectory(prefix="oci-", dir=output.parent) as tmp:
        written: list[Blob] = [blob for blob, _ in compressed]

        def json_blob(media_type: str, value: dict[str, Any]) -> Blob:
            data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
            path = Path(tmp) / hashlib.sha256(data).hexdigest()
            path.write_bytes(data)
            written.append(Blob(media_type, path.name, len(data), path))
            return written[-1]

        config_blob = json_blob(CONFIG_MEDIA_TYPE, config)
        manifest = json_blob(
            MANIFEST_MEDIA_TYPE,
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": config_blob.descriptor(),
                "layers": [blob.descriptor() for blob, _ in compressed],
            },
        )
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [
                {
                    **manifest.descriptor(),
                    "annotations": {"org.opencontainers.image.ref.name": ref_name},
                    "platform": {"architecture": config["architecture"], "os": config["os"]},
                }
            ],
        }
        partial = output.with_suffix(".partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:

            def add(name: str, data: bytes | Path) -> None:
                info = tarfile.TarInfo(name)
                info.mtime, info.mode = epoch, 0o644
                if isinstance(data, Path):
                    info.size = data.stat().st_size
                    with data.open("rb") as handle:
                        archive.addfile(info, handle)
                else:
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))

            for directory in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(directory)
                info.type, info.mtime, info.mode = tarfile.DIRTYPE, epoch, 0o755
                archive.addfile(info)
            add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            add("index.json", json.dumps(index, sort_keys=True).encode())
            for blob in sorted(written, key=lambda blob: blob.digest):
                add(f"blobs/sha256/{blob.digest}", blob.path)
        partial.rename(output)
