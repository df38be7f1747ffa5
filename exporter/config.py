"""Exporter settings: one typed object from command-line flags, each with a GPU_EXPORTER_* twin."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "GPU_EXPORTER_"
DEFAULT_PORT = 9835
DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"


@dataclass(frozen=True)
class Settings:
    listen_host: str
    listen_port: int
    node_name: str
    pod_resources_socket: str | None  # None: attribution through the kubelet is off
    kubernetes: bool
    kube_api_url: str | None
    kubeconfig: str | None
    per_process: bool
    proc_root: Path
    expected_devices: int
    resource_prefixes: tuple[str, ...]
    nvml_interval_seconds: float
    processes_interval_seconds: float
    pod_resources_interval_seconds: float
    kubernetes_interval_seconds: float
    mig_refresh_seconds: float
    log_level: str
    # exporter-toolkit web configuration (TLS, client certificates, basic auth); None: plain HTTP
    web_config_file: Path | None = None
    # gpu_nvlink_link_data_bytes_total: 2 series per NVLink (36 per H100), off by default
    nvlink_per_link: bool = False
    # GPM profiling (gpu_prof_*); off where another profiler owns the GPU's counters
    gpm: bool = True


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return (host.strip("[]") or "0.0.0.0", int(port))


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def add_flag(
    parser: argparse.ArgumentParser,
    env: Mapping[str, str],
    flag: str,
    help_text: str,
    **kwargs: object,
) -> None:
    """Add ``flag`` with its environment twin (``--node-name``: ``GPU_EXPORTER_NODE_NAME``,
    ``--web.config.file``: ``GPU_EXPORTER_WEB_CONFIG_FILE``), whose value, when set in ``env``, is the flag's default."""
    env_name = ENV_PREFIX + flag.lstrip("-").replace("-", "_").replace(".", "_").upper()
    if env_name in env:
        kwargs["default"] = env[env_name]
    parser.add_argument(flag, help=f"{help_text} [env {env_name}]", **kwargs)  # type: ignore[arg-type]


def build_parser(env: Mapping[str, str], prog: str = "gpu-exporter") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Publish NVML GPU metrics and pod-to-GPU attribution for Prometheus. "
        f"Every flag has an environment twin: --node-name is {ENV_PREFIX}NODE_NAME, and so on.",
    )

    def add(flag: str, help_text: str, **kwargs: object) -> None:
        add_flag(parser, env, flag, help_text, **kwargs)

    add(
        "--listen",
        "address to serve /metrics and /healthz on (HOST:PORT)",
        default=f"0.0.0.0:{DEFAULT_PORT}",
        type=_listen,
    )
    add(
        "--node-name",
        "Kubernetes node name put on every series (default: $NODE_NAME from the "
        "downward API, else the host name)",
        default=None,
    )
    add(
        "--pod-resources-socket",
        "kubelet pod-resources socket; empty to switch attribution off",
        default=DEFAULT_POD_RESOURCES_SOCKET,
    )
    add(
        "--kubernetes",
        "read pod phases and model-serving details from the Kubernetes API",
        default=True,
        type=_bool,
    )
    add(
        "--kube-api-url",
        "Kubernetes API URL (no auth) when neither in-cluster config nor a kubeconfig applies",
        default=None,
    )
    add(
        "--kubeconfig",
        "kubeconfig file (default: in-cluster config when running in a pod)",
        default=None,
    )
    add(
        "--per-process",
        "attribute per-process GPU memory and utilisation to containers via "
        "/proc/<pid>/cgroup (needs hostPID)",
        default=False,
        type=_bool,
    )
    add("--proc-root", "where the host's /proc is visible", default="/proc")
    add(
        "--expected-devices",
        "GPUs this node should have (0: the most NVML has reported)",
        default=0,
        type=int,
    )
    add(
        "--resource-prefix",
        "comma-separated resource name prefixes to attribute",
        default="nvidia.com/",
    )
    add("--nvml-interval", "seconds between NVML device readings", default=1.0, type=_positive)
    add("--processes-interval", "seconds between per-process readings", default=5.0, type=_positive)
    add(
        "--pod-resources-interval",
        "seconds between kubelet pod-resources refreshes",
        default=10.0,
        type=_positive,
    )
    add(
        "--kubernetes-interval",
        "seconds between Kubernetes API pod refreshes",
        default=30.0,
        type=_positive,
    )
    add(
        "--mig-refresh-interval",
        "seconds between MIG layout re-enumerations",
        default=60.0,
        type=_positive,
    )
    add(
        "--nvlink-per-link",
        "also export each NVLink's traffic (gpu_nvlink_link_data_bytes_total: 36 series per "
        "H100, 288 per 8-GPU node); the totals per GPU are always exported",
        default=False,
        type=_bool,
    )
    add(
        "--gpm",
        "sample NVML's GPM profiling metrics (gpu_prof_*: SM activity, tensor pipes, DRAM "
        "bandwidth) on GPUs that have them (Hopper and newer); false where another profiler "
        "owns the counters (DCGM's profiling module, Nsight)",
        default=True,
        type=_bool,
    )
    add(
        "--web.config.file",
        "exporter-toolkit web configuration file (YAML: tls_server_config, "
        "http_server_config, basic_auth_users) for HTTPS, client certificates and basic auth; "
        "empty for plain HTTP",
        default=None,
        dest="web_config_file",
    )
    add(
        "--log-level",
        "DEBUG, INFO, WARNING or ERROR",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    return parser


def load_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    environment = os.environ if env is None else env
    return settings_from_args(build_parser(environment).parse_args(argv), environment)


def settings_from_args(args: argparse.Namespace, environment: Mapping[str, str]) -> Settings:
    """The settings of arguments parsed by :func:`build_parser`'s parser."""
    # Defaults taken from the environment are strings; parse them like flags.
    listen = args.listen if isinstance(args.listen, tuple) else _listen(args.listen)

    def _float(value: object) -> float:
        return value if isinstance(value, float) else _positive(str(value))

    def _flag(value: object) -> bool:
        return value if isinstance(value, bool) else _bool(str(value))

    node = args.node_name or environment.get("NODE_NAME") or socket.gethostname()
    prefixes = tuple(p.strip() for p in str(args.resource_prefix).split(",") if p.strip())
    return Settings(
        listen_host=listen[0],
        listen_port=listen[1],
        node_name=node,
        pod_resources_socket=args.pod_resources_socket or None,
        kubernetes=_flag(args.kubernetes),
        kube_api_url=args.kube_api_url or None,
        kubeconfig=args.kubeconfig or None,
        per_process=_flag(args.per_process),
        proc_root=Path(args.proc_root),
        expected_devices=int(args.expected_devices),
        resource_prefixes=prefixes,
        nvml_interval_seconds=_float(args.nvml_interval),
        processes_interval_seconds=_float(args.processes_interval),
        pod_resources_interval_seconds=_float(args.pod_resources_interval),
        kubernetes_interval_seconds=_float(args.kubernetes_interval),
        mig_refresh_seconds=_float(args.mig_refresh_interval),
        log_level=str(args.log_level),
        web_config_file=Path(args.web_config_file) if args.web_config_file else None,
        nvlink_per_link=_flag(args.nvlink_per_link),
        gpm=_flag(args.gpm),
    )
