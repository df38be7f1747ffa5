"""The ``gpu-exporter`` entry point: wire NVML, the kubelet and the Kubernetes API to HTTP."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from exporter.config import Settings, load_settings
from exporter.errors import ExporterError
from exporter.nvml import load_system_nvml
from exporter.pipeline import start_exporter

log = logging.getLogger("exporter")


def run(settings: Settings, stop: threading.Event, nvml: Any = None) -> None:
    """Run the exporter until ``stop`` is set, on ``nvml`` (default: the system's NVML)."""
    with contextlib.ExitStack() as stack:
        exporter = start_exporter(stack, settings, load_system_nvml() if nvml is None else nvml)
        url = exporter.server.url
        log.info("node %s: serving %s/metrics", settings.node_name, url)
        print(f"gpu-exporter: node {settings.node_name} serving {url}/metrics", flush=True)
        stop.wait()


def serve(settings: Settings, run_until: Callable[[threading.Event], None]) -> int:
    """Call ``run_until(stop)`` with ``stop`` set by SIGTERM or SIGINT; the exit status.

    An :class:`ExporterError` or ``OSError`` is one line on stderr and status 1."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        run_until(stop)
    except (ExporterError, OSError) as exc:
        print(f"gpu-exporter: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings(argv)
    return serve(settings, lambda stop: run(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
