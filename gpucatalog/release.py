"""The release version of the server: the checkout's VERSION file, or the installed distribution's.

One number for the whole project lives in VERSION at the checkout's root; setuptools writes it
into the k8s-gpu-management distribution's metadata, which an installed wheel (no VERSION beside
it) reads back. The exporter's ``gpu_exporter_build_info`` and the service's OpenAPI document
show it.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "k8s-gpu-management"


def release_version() -> str:
    checkout = Path(__file__).resolve().parent.parent / "VERSION"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8").strip()
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
