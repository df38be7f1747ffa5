"""The GPU node exporter: NVML readings and pod attribution published for Prometheus."""

from gpucatalog.release import release_version

__version__ = release_version()
