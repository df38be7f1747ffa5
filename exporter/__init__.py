"""The GPU node exporter: NVML readings and pod attribution published for Prometheus."""

__version__ = "0.1.0"
