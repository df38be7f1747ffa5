"""The release version of the SDK: the checkout's VERSION file, or the installed distribution's.

One number for the whole project lives in VERSION at the checkout's root; setuptools writes it
into the k8s-gpu-client distribution's metadata, which an installed wheel (no VERSION beside
it) reads back.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "k8s-gpu-client"


def release_version() -> str:
    checkout = Path(__file__).resolve().parent.parent / "VERSION"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8").strip()
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = release_version()
