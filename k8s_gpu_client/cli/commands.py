"""What each ``gpuctl`` command asks the service, and how its answer is shown as a table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from k8s_gpu_client.cli.output import (
    Column,
    Style,
    cell,
    column,
    render_list,
    render_object,
    table,
    to_json,
    to_yaml,
)
from k8s_gpu_client.cli.plan import plan_layout
from k8s_gpu_client.client import GpuManagementClient
from k8s_gpu_client.models._base import parse_datetime
from k8s_gpu_client.models.forecast import SeriesForecast

__all__ = ["Result", "to_json"]

DEVICE_COLUMNS = [
    column("DEVICE", "device_id"),
    column("NODE", "node_name"),
    column("MODEL", "model_id"),
    column("STATUS", "device_status"),
    column("ALLOCATED", "allocated"),
    column("MEM_GB", "memory_gb"),
    column("TEMP_C", "current_temp_c"),
    column("POWER_W", "current_power_w"),
    column("UTIL_%", "current_utilization"),
    column("UUID", "gpu_uuid", wide=True),
    column("PCI", "pci_address", wide=True),
    column("ARCH", "architecture", wide=True),
    column("MIG", "mig_support", wide=True),
    column("DRIVER", "driver_version", wide=True),
    column("USD/H", "price_per_hour", wide=True),
]
ALLOCATION_COLUMNS = [
    column("ALLOCATION", "allocation_id"),
    column("NAMESPACE", "namespace"),
    column("POD", "pod_name"),
    column("TYPE", "resource_type"),
    column("RESOURCE", "allocated_resource"),
    column("MEM_GB", "allocated_memory_gb"),
    column("STATUS", "status"),
    column("USD/H", "cost_per_hour"),
    column("PLANNED_RELEASE", "planned_release_time"),
    column("NODE", "node_name", wide=True),
    column("MODEL", "model_id", wide=True),
    column("USER", "user_id", wide=True),
    column("TEAM", "team_id", wide=True),
    column("PROJECT", "project_id", wide=True),
    column("ALLOCATED_AT", "allocation_time", wide=True),
    column("USD_ACCRUED", "cost_accrued", wide=True),
]
MIG_INSTANCE_COLUMNS = [
    column("INSTANCE", "instance_id"),
    column("PROFILE", "profile"),
    column("MEM_GB", "memory_gb"),
    column("START", "start_slice"),
    column("STATE", "state"),
    column("ALLOCATED", "allocated"),
    column("RESOURCE", "resource_name"),
]
NONE = "(none)"


@dataclass
class Result:
    """A command's answer: ``data`` for JSON and YAML, ``render`` for the table, the exit status.

    ``names`` is set on listings: the identifier of each row (``-o name``); a listing with no
    rows prints nothing on stdout.
    """

    data: Any
    render: Callable[[Style], str]
    exit_code: int = 0
    names: list[str] | None = None

    @property
    def empty_listing(self) -> bool:
        return self.names is not None and not self.names

    def text(self, output: str, no_headers: bool = False) -> str:
        if output == "json":
            return to_json(self.data)
        if output == "yaml":
            return to_yaml(self.data)
        if output == "name" and self.names is not None:
            return "\n".join(self.names)
        # -o name names the rows of listings; other answers are shown as their table.
        return self.render(Style(wide=output == "wide", headers=not no_headers))


def listing(items: list[Any], columns: list[Column], key: str) -> Result:
    """A list result: a table of ``columns``, named by the attribute ``key`` of each item."""
    return Result(
        items,
        lambda style: render_list(items, columns, style),
        names=[str(getattr(item, key)) for item in items],
    )


def _object(data: Any, fields: list[str] | None = None) -> Result:
    return Result(data, lambda style: render_object(data, fields, style))


def devices_list(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    if getattr(args, "device_id", None):
        return listing([client.devices.get(args.device_id)], DEVICE_COLUMNS, "device_id")
    devices = client.devices.list(node_name=args.node, model_id=args.model, status=args.status)
    return listing(devices, DEVICE_COLUMNS, "device_id")


def devices_show(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    return _object(client.devices.get(args.device_id))


def devices_health(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    health = client.devices.health(args.device_id)
    reasons = [
        column("CODE", "code"),
        column("SEVERITY", "severity"),
        column("MESSAGE", "message"),
    ]

    def render(style: Style) -> str:
        head = f"{health.device_id}: {health.status}"
        return head + ("\n" + render_list(health.reasons, reasons, style) if health.reasons else "")

    return Result(health, render)


def devices_stats(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    return _object(client.devices.statistics())


def allocate(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    allocation = client.allocations.create(
        namespace=args.namespace,
        pod_name=args.pod,
        required_memory_gb=args.memory_gb,
        use_mig=args.mig,
        workload_type=args.workload_type,
        container_name=args.container,
        preferred_model_id=args.model,
        user_id=args.user,
        team_id=args.team,
        project_id=args.project,
        max_cost_per_hour=args.max_cost_per_hour,
        planned_release_time=parse_datetime(args.release_at) if args.release_at else None,
    )
    return _object(allocation)


def release(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    return _object(client.allocations.release(args.allocation_id))


def allocations_list(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    if getattr(args, "allocation_id", None):
        allocation = client.allocations.get(args.allocation_id)
        return listing([allocation], ALLOCATION_COLUMNS, "allocation_id")
    namespace = None if args.all_namespaces else args.namespace
    allocations = client.allocations.list(
        namespace=namespace, user_id=args.user, team_id=args.team, status=args.status
    )
    return listing(allocations, ALLOCATION_COLUMNS, "allocation_id")


def allocations_show(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    return _object(client.allocations.get(args.allocation_id))


def allocations_expiring(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    allocations = client.allocations.expiring(hours=args.hours)
    return listing(allocations, ALLOCATION_COLUMNS, "allocation_id")


def mig_show(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    layout = client.mig.get(args.device_id)

    def render(style: Style) -> str:
        head = (
            f"{layout.device_id} ({layout.model_id}, {layout.device_status}): "
            f"desired {','.join(layout.desired_layout) or '-'}; "
            f"observed {','.join(layout.observed_layout) or '-'}; "
            f"in sync: {'yes' if layout.in_sync else 'no'}"
        )
        return head + "\n" + render_list(layout.instances, MIG_INSTANCE_COLUMNS, style, NONE)

    return Result(layout, render)


def mig_plan(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    device = client.devices.get(args.device_id)
    layout = client.mig.get(args.device_id)
    plan = plan_layout(device, layout, args.profiles)
    if args.apply:
        created = client.mig.create(args.device_id, args.profiles)
        return Result(
            created,
            lambda style: (
                "applied\n" + render_list(created.instances, MIG_INSTANCE_COLUMNS, style, NONE)
            ),
        )
    data = {
        "deviceId": plan.device_id,
        "modelId": plan.model_id,
        "currentLayout": plan.current_layout,
        "requestedProfiles": plan.requested,
        "computeSlicesFree": plan.compute_slices_free,
        "computeSlicesRequested": plan.compute_slices_requested,
        "memoryGbFree": plan.memory_gb_free,
        "memoryGbRequested": plan.memory_gb_requested,
        "fits": plan.fits,
        "problems": plan.problems,
    }

    def render(style: Style) -> str:
        verdict = "fits (pre-check; the service validates placement on --apply)"
        if not plan.fits:
            verdict = "does not fit: " + "; ".join(plan.problems)
        return render_object(data, [k for k in data if k != "problems"], style) + "\n" + verdict

    return Result(data, render, exit_code=0 if plan.fits else 1)


def mig_delete(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    layout = client.mig.delete(args.device_id)
    return Result(layout, lambda style: f"{layout.device_id}: MIG instances removed")


def mig_available(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    instances = client.mig.available()
    columns = [column("DEVICE", "device_id"), *MIG_INSTANCE_COLUMNS]
    return listing(instances, columns, "instance_id")


COST_REPORT_FIELDS = [
    "dailyCost",
    "weeklyCost",
    "monthlyCost",
    "potentialMonthlySavings",
    "costByNamespace",
    "costByTeam",
    "windowDays",
    "totalCost",
    "analysisDate",
]
SUGGESTION_COLUMNS = [
    column("TYPE", "type"),
    column("USD/MONTH", "monthly_savings"),
    column("TITLE", "title"),
    column("DEVICES", "device_ids"),
]


def cost_report(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    analysis = client.cost.analyze(days=args.days)
    return _object(analysis, COST_REPORT_FIELDS)


def cost_stats(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    return _object(client.cost.statistics(days=args.days))


def cost_optimize(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    optimization = client.cost.optimization(days=args.days)

    def render(style: Style) -> str:
        head = f"potential monthly savings: {cell(optimization.potential_monthly_savings)} USD"
        suggestions = render_list(optimization.suggestions, SUGGESTION_COLUMNS, style, NONE)
        return head + "\n" + suggestions

    return Result(optimization, render)


def _forecast_rows(series: dict[str, SeriesForecast | None], style: Style) -> str:
    rows = []
    for name, forecast in series.items():
        if forecast is None:
            rows.append([name, "-", "-", "-", "-", "-", "-"])
            continue
        last = forecast.points[-1] if forecast.points else None
        capacity = forecast.capacity.hours_until if forecast.capacity else None
        rows.append(
            [
                name,
                cell(forecast.unit),
                cell(forecast.method),
                cell(forecast.last_value),
                cell(last.value if last else None),
                f"{cell(last.lower95 if last else None)}..{cell(last.upper95 if last else None)}",
                cell(capacity),
            ]
        )
    headers = ["SERIES", "UNIT", "METHOD", "NOW", "AT_HORIZON", "95%", "HOURS_TO_CAPACITY"]
    return table(rows, headers, style)


def forecast(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    if args.resources:
        resources = client.resources.forecast(hours=args.hours)
        series = {"cpu": resources.cpu, "memory": resources.memory, "gpu": resources.gpu}
        return Result(resources, lambda style: _forecast_rows(series, style))
    gpu = client.cluster.forecast(hours=args.hours)
    gpu_series = {
        "utilization": gpu.utilization,
        "allocatedGpus": gpu.allocated_gpus,
        "memoryUsedGb": gpu.memory_used_gb,
    }

    def render(style: Style) -> str:
        text = _forecast_rows(gpu_series, style)
        for warning in gpu.capacity_warnings:
            text += (
                f"\nwarning: {warning.model_id} {warning.resource} reaches {cell(warning.capacity)} "
                f"{warning.unit or ''} in {cell(warning.hours_until)} h"
            )
        return text

    return Result(gpu, render)


def overview(client: GpuManagementClient, args: argparse.Namespace) -> Result:
    return _object(client.cluster.overview())
