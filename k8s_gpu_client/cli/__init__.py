"""``gpuctl``: the operator CLI on the SDK.

Every option has an environment twin (``GPUCTL_BASE_URL``, ``GPUCTL_API_KEY``,
``GPUCTL_USERNAME``, ``GPUCTL_PASSWORD``, ``GPUCTL_TIMEOUT``, ``GPUCTL_OUTPUT``); flags win.
Exit status: 0 success, 1 the service answered an error (its code on stderr), 2 usage, 3 the
service could not be reached. ``--output json`` prints the API's fields exactly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from k8s_gpu_client.cli import commands
from k8s_gpu_client.client import DEFAULT_BASE_URL, GpuManagementClient
from k8s_gpu_client.errors import ApiError, TransportError

ENV_PREFIX = "GPUCTL_"
Handler = Callable[[GpuManagementClient, argparse.Namespace], commands.Result]


def _common(env: Mapping[str, str], top_level: bool) -> argparse.ArgumentParser:
    """Connection and output options, accepted before and after the command.

    On subcommands the defaults are SUPPRESS, so an option given before the command is not
    reset by the subcommand's parser.
    """
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("connection and output")

    def default(name: str, fallback: Any = None) -> Any:
        if not top_level:
            return argparse.SUPPRESS
        return env.get(ENV_PREFIX + name) or fallback

    group.add_argument(
        "--base-url",
        default=default("BASE_URL", DEFAULT_BASE_URL),
        help=f"API base URL (env GPUCTL_BASE_URL; default {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--api-key", default=default("API_KEY"), help="API key, sent as Bearer (env GPUCTL_API_KEY)"
    )
    group.add_argument(
        "--username", default=default("USERNAME"), help="HTTP basic user (env GPUCTL_USERNAME)"
    )
    group.add_argument(
        "--password",
        default=default("PASSWORD"),
        help="HTTP basic password, i.e. the API key (env GPUCTL_PASSWORD)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=default("TIMEOUT", 30.0),
        help="seconds to wait for an answer (env GPUCTL_TIMEOUT; default 30)",
    )
    group.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default=default("OUTPUT", "table"),
        help="table (default) or json: the API's fields (env GPUCTL_OUTPUT)",
    )
    return parser


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    env = os.environ if env is None else env
    common = _common(env, top_level=False)
    parser = argparse.ArgumentParser(
        prog="gpuctl",
        description="Operate the K8s GPU Management API: GPUs, allocations, MIG, cost, forecasts.",
        parents=[_common(env, top_level=True)],
    )
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(sub: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        command.set_defaults(handler=handler)
        return command

    def group(name: str, help_text: str) -> Any:
        section = groups.add_parser(name, help=help_text, description=help_text)
        return section.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    devices = group("devices", "GPU inventory")
    cmd = add(devices, "list", commands.devices_list, "List GPUs")
    cmd.add_argument("--node", help="only this node")
    cmd.add_argument("--model", help="only this model id, e.g. A100_80GB")
    cmd.add_argument(
        "--status", help="available, active, maintenance, inactive, failed or mig_enabled"
    )
    cmd = add(devices, "show", commands.devices_show, "Show one GPU")
    cmd.add_argument("device_id", help="device id, e.g. gpu-worker-1-GPU-00")
    cmd = add(devices, "health", commands.devices_health, "Health verdict of one GPU")
    cmd.add_argument("device_id", help="device id")
    add(devices, "stats", commands.devices_stats, "GPU counts by model, node and status")

    cmd = add(groups, "allocate", commands.allocate, "Allocate a GPU or MIG instance")
    cmd.add_argument("--namespace", required=True, help="namespace of the pod")
    cmd.add_argument("--pod", required=True, help="pod that will use the GPU")
    cmd.add_argument("--memory-gb", type=float, required=True, help="GPU memory needed, GB")
    cmd.add_argument("--mig", action="store_true", help="a MIG instance instead of a whole GPU")
    cmd.add_argument("--workload-type", help="Inference, Training, Development, ...")
    cmd.add_argument("--container", help="container name")
    cmd.add_argument("--model", help="preferred GPU model id")
    cmd.add_argument("--user", help="user charged")
    cmd.add_argument("--team", help="team charged")
    cmd.add_argument("--project", help="project charged")
    cmd.add_argument("--max-cost-per-hour", type=float, help="refuse dearer resources, USD/hour")
    cmd.add_argument("--release-at", help="planned release time, ISO-8601 UTC")
    cmd = add(groups, "release", commands.release, "Release an allocation")
    cmd.add_argument("allocation_id", help="allocation id, ALLOC-...")

    allocations = group("allocations", "The allocation ledger")
    cmd = add(allocations, "list", commands.allocations_list, "List allocations")
    cmd.add_argument("--namespace", help="only this namespace")
    cmd.add_argument("--user", help="only this user")
    cmd.add_argument("--team", help="only this team")
    cmd.add_argument("--status", help="ALLOCATED (default), RELEASED, EXPIRED or ALL")
    cmd = add(allocations, "show", commands.allocations_show, "Show one allocation")
    cmd.add_argument("allocation_id", help="allocation id")
    cmd = add(allocations, "expiring", commands.allocations_expiring, "Allocations ending soon")
    cmd.add_argument("--hours", type=int, default=24, help="window ahead, hours (default 24)")

    mig = group("mig", "MIG layouts")
    cmd = add(mig, "show", commands.mig_show, "Show a GPU's MIG layout, desired and observed")
    cmd.add_argument("device_id", help="device id")
    cmd = add(
        mig, "plan", commands.mig_plan, "Pre-check MIG profiles on a GPU; --apply creates them"
    )
    cmd.add_argument("device_id", help="device id")
    cmd.add_argument("profiles", nargs="+", metavar="PROFILE", help="e.g. 1g.10gb 2g.20gb")
    cmd.add_argument(
        "--apply", action="store_true", help="create the instances (the service validates)"
    )
    cmd = add(mig, "delete", commands.mig_delete, "Remove all MIG instances of a GPU")
    cmd.add_argument("device_id", help="device id")
    add(mig, "available", commands.mig_available, "Free MIG instances")

    cost = group("cost", "Cost analysis")
    cmd = add(cost, "report", commands.cost_report, "Cost analysis (USD) over a window")
    cmd.add_argument("--days", type=int, default=30, help="window, days (default 30)")
    cmd = add(cost, "stats", commands.cost_stats, "Allocation cost by team, namespace, user")
    cmd.add_argument("--days", type=int, help="only the last N days")
    cmd = add(cost, "optimize", commands.cost_optimize, "Optimisation suggestions (USD/month)")
    cmd.add_argument("--days", type=int, help="window the suggestions look at, days")

    cmd = add(groups, "forecast", commands.forecast, "GPU (or cluster resource) demand forecast")
    cmd.add_argument("--hours", type=int, default=24, help="horizon, hours (default 24)")
    cmd.add_argument(
        "--resources", action="store_true", help="CPU/memory/GPU of the cluster (/resources)"
    )
    add(groups, "overview", commands.overview, "Cluster GPU overview")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser(env).parse_args(argv)
    if args.api_key and (args.username or args.password):
        err.write("gpuctl: give --api-key or --username/--password, not both\n")
        return 2
    try:
        with GpuManagementClient(
            args.base_url,
            args.api_key,
            username=args.username,
            password=args.password,
            timeout=args.timeout,
        ) as client:
            handler: Handler = args.handler
            result = handler(client, args)
    except ApiError as exc:
        err.write(f"gpuctl: {exc}\n")
        if exc.details:
            err.write(f"details: {exc.details}\n")
        for name, messages in exc.fields.items():
            err.write(f"field {name}: {commands.to_json(messages)}\n")
        if exc.context:
            err.write(f"context: {commands.to_json(exc.context)}\n")
        return 1
    except TransportError as exc:
        err.write(f"gpuctl: {exc}\n")
        return 3
    out.write((result.json() if args.output == "json" else result.table()) + "\n")
    return result.exit_code
