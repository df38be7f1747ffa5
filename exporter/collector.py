"""Renders one immutable Snapshot as Prometheus metric families. Owns no threads, caches or I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.metrics import BY_NAME, CLOCK_EVENT_REASONS, Kind
from exporter.snapshot import DeviceCounters, DeviceSample, Snapshot

_Family = GaugeMetricFamily | CounterMetricFamily


class _Families:
    """Families keyed by catalogue name, created on first use so absent fields emit nothing."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def add(self, name: str, labels: Sequence[str], value: float) -> None:
        family = self._families.get(name)
        if family is None:
            definition = BY_NAME[name]
            if definition.kind is Kind.COUNTER:
                family = CounterMetricFamily(
                    definition.family_name, definition.help, labels=definition.labels
                )
            else:
                family = GaugeMetricFamily(
                    definition.family_name, definition.help, labels=definition.labels
                )
            self._families[name] = family
        family.add_metric(list(labels), value)

    def values(self) -> Iterator[Metric]:
        yield from self._families.values()


def _device_labels(node: str, device: DeviceSample) -> tuple[str, str, str]:
    return (node, str(device.identity.index), device.identity.uuid)


# (catalogue name, DeviceSample attribute) for plain per-device gauges and counters.
_SIMPLE_FIELDS: tuple[tuple[str, str], ...] = (
    ("gpu_utilization_ratio", "utilization_ratio"),
    ("gpu_busy_seconds_total", "busy_seconds_total"),
    ("gpu_memory_utilization_ratio", "memory_utilization_ratio"),
    ("gpu_memory_used_bytes", "memory_used_bytes"),
    ("gpu_memory_total_bytes", "memory_total_bytes"),
    ("gpu_temperature_celsius", "temperature_celsius"),
    ("gpu_power_usage_watts", "power_watts"),
    ("gpu_power_limit_watts", "power_limit_watts"),
    ("gpu_energy_consumed_joules_total", "energy_joules_total"),
    ("gpu_performance_state", "performance_state"),
    ("gpu_row_remap_pending", "row_remap_pending"),
    ("gpu_row_remap_failure", "row_remap_failure"),
)

_LABELLED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("gpu_clock_hertz", "sm", "clock_sm_hertz"),
    ("gpu_clock_hertz", "memory", "clock_memory_hertz"),
    ("gpu_clock_hertz", "graphics", "clock_graphics_hertz"),
    ("gpu_ecc_errors_total", "corrected", "ecc_corrected_total"),
    ("gpu_ecc_errors_total", "uncorrected", "ecc_uncorrected_total"),
    ("gpu_ecc_errors_lifetime", "corrected", "ecc_corrected_aggregate"),
    ("gpu_ecc_errors_lifetime", "uncorrected", "ecc_uncorrected_aggregate"),
    ("gpu_remapped_rows", "correctable", "remapped_rows_correctable"),
    ("gpu_remapped_rows", "uncorrectable", "remapped_rows_uncorrectable"),
)


# GPM profiling (issue 20): (catalogue name, ProfilingSample attribute).
_PROFILING_FIELDS: tuple[tuple[str, str], ...] = (
    ("gpu_prof_sm_active_ratio", "sm_active_ratio"),
    ("gpu_prof_sm_occupancy_ratio", "sm_occupancy_ratio"),
    ("gpu_prof_tensor_active_ratio", "tensor_active_ratio"),
    ("gpu_prof_tensor_hmma_active_ratio", "tensor_hmma_active_ratio"),
    ("gpu_prof_tensor_imma_active_ratio", "tensor_imma_active_ratio"),
    ("gpu_prof_tensor_dfma_active_ratio", "tensor_dfma_active_ratio"),
    ("gpu_prof_fp64_active_ratio", "fp64_active_ratio"),
    ("gpu_prof_fp32_active_ratio", "fp32_active_ratio"),
    ("gpu_prof_fp16_active_ratio", "fp16_active_ratio"),
    ("gpu_prof_dram_bandwidth_utilization_ratio", "dram_bandwidth_utilization_ratio"),
    ("gpu_prof_pcie_transmit_bytes_per_second", "pcie_transmit_bytes_per_second"),
    ("gpu_prof_pcie_receive_bytes_per_second", "pcie_receive_bytes_per_second"),
    ("gpu_prof_nvlink_transmit_bytes_per_second", "nvlink_transmit_bytes_per_second"),
    ("gpu_prof_nvlink_receive_bytes_per_second", "nvlink_receive_bytes_per_second"),
    ("gpu_prof_nvdec_utilization_ratio", "nvdec_utilization_ratio"),
    ("gpu_prof_nvjpg_utilization_ratio", "nvjpg_utilization_ratio"),
    ("gpu_prof_nvofa_utilization_ratio", "nvofa_utilization_ratio"),
)


def _render_profiling(out: _Families, snapshot: Snapshot) -> None:
    """GPM profiling (issue 20): one support verdict per GPU, metrics per GPU and MIG instance."""
    node = snapshot.node
    for support in snapshot.profiling_support:
        out.add(
            "gpu_prof_support_info",
            (
                node,
                str(support.gpu_index),
                support.gpu_uuid,
                "true" if support.supported else "false",
                support.reason,
            ),
            1.0,
        )
    for sample in snapshot.profiling:
        labels = (
            node,
            str(sample.gpu_index),
            sample.gpu_uuid,
            sample.mig_uuid or "",
            "" if sample.gpu_instance_id is None else str(sample.gpu_instance_id),
        )
        for name, attribute in _PROFILING_FIELDS:
            value = getattr(sample, attribute)
            if value is not None:
                out.add(name, labels, float(value))


# -- dcgm-exporter default counters from NVML (issue 20) ----------------------------------------

# (catalogue name, DeviceCounters attribute) for plain per-device gauges and counters.
_COUNTER_FIELDS: tuple[tuple[str, str], ...] = (
    ("gpu_memory_temperature_celsius", "memory_temperature_celsius"),
    ("gpu_pcie_replay_errors_total", "pcie_replay_errors_total"),
    ("gpu_encoder_utilization_ratio", "encoder_utilization_ratio"),
    ("gpu_decoder_utilization_ratio", "decoder_utilization_ratio"),
    ("gpu_memory_reserved_bytes", "memory_reserved_bytes"),
)
_DIRECTION_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("gpu_pcie_throughput_bytes_per_second", "transmit", "pcie_transmit_bytes_per_second"),
    ("gpu_pcie_throughput_bytes_per_second", "receive", "pcie_receive_bytes_per_second"),
    ("gpu_nvlink_data_bytes_total", "transmit", "nvlink_transmit_bytes_total"),
    ("gpu_nvlink_data_bytes_total", "receive", "nvlink_receive_bytes_total"),
)


def _render_counters(
    out: _Families, labels: tuple[str, str, str], counters: DeviceCounters
) -> None:
    for name, attribute in _COUNTER_FIELDS:
        value = getattr(counters, attribute)
        if value is not None:
            out.add(name, labels, float(value))
    for name, direction, attribute in _DIRECTION_FIELDS:
        value = getattr(counters, attribute)
        if value is not None:
            out.add(name, (*labels, direction), float(value))
    for link in counters.nvlink_links:
        for direction, total in (
            ("transmit", link.transmit_bytes_total),
            ("receive", link.receive_bytes_total),
        ):
            if total is not None:
                out.add(
                    "gpu_nvlink_link_data_bytes_total",
                    (*labels, str(link.link), direction),
                    float(total),
                )
    for error, count in counters.nvlink_errors_total:
        out.add("gpu_nvlink_errors_total", (*labels, error), float(count))
    for reason, seconds in counters.violation_seconds_total:
        out.add("gpu_violation_seconds_total", (*labels, reason), seconds)
    if counters.fabric_state is not None:
        out.add("gpu_fabric_state", (*labels, counters.fabric_state), 1.0)


class SnapshotCollector(Collector):
    """A prometheus_client collector over whatever snapshot ``source`` returns now."""

    def __init__(self, source: Callable[[], Snapshot | None]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        snapshot = self._source()
        if snapshot is None:
            return iter(())
        return render(snapshot)


def render(snapshot: Snapshot) -> Iterator[Metric]:
    """Metric families for one snapshot; fields a GPU does not report emit nothing."""
    out = _Families()
    node = snapshot.node
    uuid_to_index = {d.identity.uuid: str(d.identity.index) for d in snapshot.devices}

    for device in snapshot.devices:
        labels = _device_labels(node, device)
        out.add("gpu_up", labels, 1.0 if device.up else 0.0)
        if not device.identity.uuid:
            continue  # never identified: only gpu_up can be said about it
        ident = device.identity
        mig_mode = (
            "unsupported"
            if device.mig_enabled is None
            else ("enabled" if device.mig_enabled else "disabled")
        )
        out.add(
            "gpu_info",
            (
                *labels,
                ident.name,
                ident.pci_bus_id,
                ident.serial,
                snapshot.driver_version or "",
                snapshot.cuda_driver_version or "",
                ident.vbios_version,
                ident.architecture,
                mig_mode,
            ),
            1.0,
        )
        if not device.up:
            continue
        for name, attribute in _SIMPLE_FIELDS:
            value = getattr(device, attribute)
            if value is not None:
                out.add(name, labels, float(value))
        for name, label, attribute in _LABELLED_FIELDS:
            value = getattr(device, attribute)
            if value is not None:
                out.add(name, (*labels, label), float(value))
        if device.clock_event_reasons is not None:
            for reason, bit in CLOCK_EVENT_REASONS:
                active = 1.0 if device.clock_event_reasons & bit else 0.0
                out.add("gpu_clock_event_reason_active", (*labels, reason), active)
        if device.counters is not None:
            _render_counters(out, labels, device.counters)
        for mig in device.mig_instances:
            mig_labels = (*labels, mig.mig_uuid)
            out.add(
                "gpu_mig_info",
                (*mig_labels, str(mig.gpu_instance_id), str(mig.compute_instance_id), mig.profile),
                1.0,
            )
            if mig.memory_used_bytes is not None:
                out.add("gpu_mig_memory_used_bytes", mig_labels, float(mig.memory_used_bytes))
            if mig.memory_total_bytes is not None:
                out.add("gpu_mig_memory_total_bytes", mig_labels, float(mig.memory_total_bytes))

    for xid in snapshot.xids:
        xid_labels = (node, uuid_to_index.get(xid.gpu_uuid, ""), xid.gpu_uuid, str(xid.xid))
        out.add("gpu_xid_errors_total", xid_labels, float(xid.count))
        out.add("gpu_xid_last_seen_timestamp_seconds", xid_labels, xid.last_seen_timestamp_seconds)

    for alloc in snapshot.allocations:
        out.add(
            "gpu_pod_allocation_info",
            (
                node,
                alloc.namespace,
                alloc.pod,
                alloc.container,
                str(alloc.gpu_index),
                alloc.gpu_uuid,
                alloc.mig_uuid or "",
                alloc.resource_name,
                alloc.sharing,
                alloc.claim_name,
                alloc.claim_namespace,
            ),
            1.0,
        )
    for usage in snapshot.pod_usage:
        pod_labels = (
            node,
            usage.namespace,
            usage.pod,
            usage.container,
            uuid_to_index.get(usage.gpu_uuid, ""),
            usage.gpu_uuid,
            usage.mig_uuid or "",
        )
        out.add("gpu_pod_memory_used_bytes", pod_labels, float(usage.used_memory_bytes))
        if usage.sm_utilization_ratio is not None:
            out.add("gpu_pod_sm_utilization_ratio", pod_labels, usage.sm_utilization_ratio)
    for pod in snapshot.serving_pods:
        out.add(
            "gpu_model_serving_info",
            (node, pod.namespace, pod.name, pod.model_type or "", pod.model_name or ""),
            1.0,
        )

    _render_profiling(out, snapshot)

    out.add("gpu_exporter_build_info", (node, __version__), 1.0)
    out.add("gpu_exporter_devices_expected", (node,), float(snapshot.expected_devices))
    out.add("gpu_exporter_devices_visible", (node,), float(sum(d.up for d in snapshot.devices)))
    for stage in snapshot.stages:
        out.add("gpu_exporter_stage_duration_seconds", (node, stage.stage), stage.duration_seconds)
        if stage.last_success_timestamp_seconds is not None:
            out.add(
                "gpu_exporter_stage_last_success_timestamp_seconds",
                (node, stage.stage),
                stage.last_success_timestamp_seconds,
            )
    for operation, count in snapshot.errors_total:
        out.add("gpu_exporter_errors_total", (node, operation), float(count))
    return out.values()
