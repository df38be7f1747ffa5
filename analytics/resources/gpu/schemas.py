"""Schemas of the metric-backed GPU endpoints (usage, overheating, health, overview, sync)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc
from analytics.prom.utilization import SOURCES

MAX_WINDOW_HOURS = 24 * 90
_SEVERITIES = ["CRITICAL", "WARNING", "INFO"]
_VERDICTS = ["HEALTHY", "WARNING", "CRITICAL"]


class GpuMetricsWindowQuerySchema(Schema):
    hours = fields.Integer(
        load_default=24,
        validate=validate.Range(1, MAX_WINDOW_HOURS),
        metadata=doc(f"Window length, hours, 1-{MAX_WINDOW_HOURS} (default 24).", example=24),
    )


# -- partial answers ---------------------------------------------------------------------------


class MetricsAvailabilitySchema(Schema):
    """The two fields of an answer that mixes the inventory with metrics
    (analytics.services.kernel.partial): whether its metric fields came from Prometheus."""

    metrics_available = fields.Boolean(
        data_key="metricsAvailable",
        required=True,
        metadata=doc(
            "Whether Prometheus answered. When false the metric fields are null and the rest "
            "comes from the database."
        ),
    )
    metrics_unavailable_reason = fields.String(
        data_key="metricsUnavailableReason",
        required=True,
        allow_none=True,
        metadata=doc(
            "Why the metric fields are null (e.g. Prometheus did not answer within 10 s); null "
            "when metricsAvailable is true."
        ),
    )


# -- usage statistics --------------------------------------------------------------------------


class DeviceUsageSchema(Schema):
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    model_name = fields.String(data_key="modelName", metadata=doc("GPU model display name."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    avg_gpu_utilization = fields.Float(
        data_key="avgGpuUtilization",
        allow_none=True,
        metadata=doc(
            "Mean GPU utilisation over the window, percent 0-100: SM activity where the GPU "
            "measures it (GPM: Hopper and newer), else NVML's utilization.gpu (see "
            "utilizationSource); null where neither is reported (a GPU in MIG mode)."
        ),
    )
    utilization_source = fields.String(
        data_key="utilizationSource",
        allow_none=True,
        validate=validate.OneOf(SOURCES),
        metadata=doc(
            "What avgGpuUtilization is: SM_ACTIVE (gpu_prof_sm_active_ratio, the fraction of "
            "SM cycles with a warp) or GPU_UTILIZATION (NVML utilization.gpu, the fraction of "
            "time any kernel ran); null with no utilisation."
        ),
    )
    avg_memory_utilization = fields.Float(
        data_key="avgMemoryUtilization",
        allow_none=True,
        metadata=doc("Mean device memory in use over total memory, percent 0-100."),
    )
    avg_temperature = fields.Float(
        data_key="avgTemperature", allow_none=True, metadata=doc("Mean temperature, °C.")
    )


class ModelUsageSchema(Schema):
    device_count = fields.Integer(
        data_key="deviceCount", metadata=doc("GPUs of this model with data in the window.")
    )
    avg_gpu_utilization = fields.Float(
        data_key="avgGpuUtilization",
        allow_none=True,
        metadata=doc("Mean of the devices' mean utilisation, percent (devices with data)."),
    )
    avg_memory_utilization = fields.Float(
        data_key="avgMemoryUtilization",
        allow_none=True,
        metadata=doc("Mean of the devices' mean memory utilisation, percent."),
    )
    avg_temperature = fields.Float(
        data_key="avgTemperature",
        allow_none=True,
        metadata=doc("Mean of the devices' mean temperature, °C."),
    )


class UsageStatisticsSchema(Schema):
    time_range = fields.String(data_key="timeRange", metadata=doc('The window, e.g. "24 hours".'))
    window_start = UtcDateTime(
        data_key="windowStart", metadata=doc("Start of the data the averages cover, UTC.")
    )
    window_end = UtcDateTime(
        data_key="windowEnd",
        metadata=doc(
            "End of the data the averages cover, UTC: now for windows under 2 hours, else the "
            "newest hourly recording-rule sample (up to an hour ago)."
        ),
    )
    source = fields.String(
        metadata=doc(
            "recording-rules (hourly aggregates, windows of 2 h and more) or raw (the scraped "
            "series).",
            enum=["recording-rules", "raw"],
        )
    )
    device_statistics = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(DeviceUsageSchema),
        data_key="deviceStatistics",
        metadata=doc("Per device id: its averages over the window."),
    )
    model_statistics = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ModelUsageSchema),
        data_key="modelStatistics",
        metadata=doc("Per model id: device count and the mean of its devices' averages."),
    )


# -- overheating -------------------------------------------------------------------------------


class OverheatingAlertSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("GPU id."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    start = UtcDateTime(metadata=doc("First reading above the threshold, UTC."))
    end = UtcDateTime(metadata=doc("Last reading above the threshold, UTC."))
    duration_minutes = fields.Float(
        data_key="durationMinutes",
        metadata=doc("Length of the window, minutes (readings are one minute apart)."),
    )
    peak_temperature = fields.Float(
        data_key="peakTemperature", metadata=doc("Highest reading in the window, °C.")
    )
    threshold = fields.Float(metadata=doc("The model's overheating threshold, °C."))
    ongoing = fields.Boolean(metadata=doc("Still above the threshold at the latest reading."))
    severity = fields.String(metadata=doc("Always CRITICAL.", enum=["CRITICAL"]))


class OverheatingAlertsSchema(Schema):
    time_range = fields.String(data_key="timeRange", metadata=doc('The window, e.g. "24 hours".'))
    window_start = UtcDateTime(data_key="windowStart", metadata=doc("Window start, UTC."))
    window_end = UtcDateTime(data_key="windowEnd", metadata=doc("Window end (now), UTC."))
    total_alerts = fields.Integer(
        data_key="totalAlerts", metadata=doc("Overheating windows found.")
    )
    affected_devices = fields.Integer(
        data_key="affectedDevices", metadata=doc("GPUs with at least one window.")
    )
    alerts = fields.List(
        fields.Nested(OverheatingAlertSchema),
        metadata=doc("The windows, oldest first; minute resolution."),
    )


class OverheatingDeviceSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("GPU id."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    model_name = fields.String(data_key="modelName", metadata=doc("GPU model display name."))
    current_temp_c = fields.Float(data_key="currentTempC", metadata=doc("Temperature now, °C."))
    threshold_c = fields.Float(
        data_key="thresholdC", metadata=doc("The model's overheating threshold, °C.")
    )
    excess_c = fields.Float(data_key="excessC", metadata=doc("Degrees above the threshold, °C."))
    severity = fields.String(metadata=doc("Always CRITICAL.", enum=["CRITICAL"]))
    measured_at = UtcDateTime(data_key="measuredAt", metadata=doc("Time of the reading, UTC."))


# -- health ------------------------------------------------------------------------------------


class GpuHealthReasonSchema(Schema):
    code = fields.String(
        metadata=doc(
            "GPU_LOST, NOT_REPORTED, NO_METRICS, OVERHEATING, TEMPERATURE_HIGH, XID_CRITICAL, "
            "XID_WARNING, XID_OTHER, ECC_UNCORRECTABLE, ECC_UNCORRECTABLE_LIFETIME, "
            "ROW_REMAP_FAILURE, ROW_REMAP_PENDING, THERMAL_THROTTLING or POWER_BRAKE "
            "(docs/analytics.md)."
        )
    )
    severity = fields.String(metadata=doc("How serious the finding is.", enum=_SEVERITIES))
    message = fields.String(metadata=doc("The finding, for people."))
    value = fields.Float(
        allow_none=True, metadata=doc("The measured value (°C, error count), where one applies.")
    )
    threshold = fields.Float(
        allow_none=True, metadata=doc("The threshold compared against (°C), where one applies.")
    )
    xid = fields.Integer(allow_none=True, metadata=doc("The XID code, for XID findings."))
    count = fields.Integer(
        allow_none=True, metadata=doc("XID occurrences in the window, for XID findings.")
    )


class DeviceHealthSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("GPU id."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    status = fields.String(
        metadata=doc(
            "CRITICAL if any finding is critical, WARNING if any is a warning, else HEALTHY.",
            enum=_VERDICTS,
        )
    )
    reasons = fields.List(
        fields.Nested(GpuHealthReasonSchema), metadata=doc("The findings, INFO ones included.")
    )
    temperature_c = fields.Float(
        data_key="temperatureC",
        allow_none=True,
        metadata=doc(
            "Temperature now, °C. In /gpu/health only for GPUs within 5 °C of their threshold "
            "(the fleet view reads only those); null otherwise."
        ),
    )
    threshold_c = fields.Float(
        data_key="thresholdC", metadata=doc("The model's overheating threshold, °C.")
    )
    xid_counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="xidCounts",
        metadata=doc("XID occurrences in the window, by XID code."),
    )
    xid_window_hours = fields.Integer(
        data_key="xidWindowHours", metadata=doc("The window XIDs are counted over, hours.")
    )
    checked_at = UtcDateTime(data_key="checkedAt", metadata=doc("When the check ran, UTC."))


class GpuClusterHealthSchema(Schema):
    status = fields.String(metadata=doc("The worst device verdict.", enum=_VERDICTS))
    total_devices = fields.Integer(data_key="totalDevices", metadata=doc("Registered GPUs."))
    healthy_devices = fields.Integer(data_key="healthyDevices", metadata=doc("GPUs HEALTHY."))
    warning_devices = fields.Integer(data_key="warningDevices", metadata=doc("GPUs WARNING."))
    critical_devices = fields.Integer(data_key="criticalDevices", metadata=doc("GPUs CRITICAL."))
    reasons = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="reasons",
        metadata=doc("GPUs per warning or critical finding code."),
    )
    devices_by_node = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        data_key="devicesByNode",
        metadata=doc("Per node: GPU count per verdict."),
    )
    unhealthy = fields.List(
        fields.Nested(DeviceHealthSchema),
        metadata=doc("The verdicts of the GPUs that are not HEALTHY."),
    )
    checked_at = UtcDateTime(data_key="checkedAt", metadata=doc("When the check ran, UTC."))


# -- overview ----------------------------------------------------------------------------------


class GpuOverviewSchema(MetricsAvailabilitySchema):
    total_nodes = fields.Integer(
        data_key="totalNodes", metadata=doc("Nodes with at least one registered GPU.")
    )
    total_gpu_devices = fields.Integer(data_key="totalGpuDevices", metadata=doc("Registered GPUs."))
    total_mig_instances = fields.Integer(
        data_key="totalMigInstances", metadata=doc("MIG instances, desired or observed.")
    )
    active_allocations = fields.Integer(
        data_key="activeAllocations", metadata=doc("Allocations holding a resource now.")
    )
    devices_by_model = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="devicesByModel",
        metadata=doc("Registered GPUs per model id."),
    )
    devices_reporting = fields.Integer(
        data_key="devicesReporting",
        allow_none=True,
        metadata=doc(
            "GPUs their exporter reads now (gpu_up 1; a lost GPU does not count); null without "
            "metrics."
        ),
    )
    overall_gpu_utilization = fields.Float(
        data_key="overallGpuUtilization",
        allow_none=True,
        metadata=doc(
            "Mean utilisation now over the GPUs that report one, percent (GPUs in MIG mode "
            "report none); null without metrics."
        ),
    )
    overall_memory_utilization = fields.Float(
        data_key="overallMemoryUtilization",
        allow_none=True,
        metadata=doc(
            "Device memory in use over total device memory now, all GPUs, percent; null "
            "without metrics."
        ),
    )
    overall_temperature = fields.Float(
        data_key="overallTemperature",
        allow_none=True,
        metadata=doc("Mean temperature now, °C; null without metrics."),
    )
    total_hourly_cost = fields.Float(
        data_key="totalHourlyCost",
        metadata=doc(
            "What the registered GPUs cost per hour at the price book's on-demand rates (USD), "
            "used or not: a rental-equivalent value of the fleet, not a bill. Models without a "
            "price count zero."
        ),
    )
    total_monthly_cost = fields.Float(
        data_key="totalMonthlyCost",
        metadata=doc("totalHourlyCost x 730 hours (an average month), USD."),
    )
    total_alerts = fields.Integer(
        data_key="totalAlerts",
        allow_none=True,
        metadata=doc(
            "Warning and critical findings of our GPU checks plus firing Prometheus alerts "
            "(an alert about a GPU our checks already count at that severity is counted once); "
            "null without metrics."
        ),
    )
    critical_alerts = fields.Integer(
        data_key="criticalAlerts",
        allow_none=True,
        metadata=doc("Of totalAlerts, those with critical severity; null without metrics."),
    )
    warning_alerts = fields.Integer(
        data_key="warningAlerts",
        allow_none=True,
        metadata=doc("Of totalAlerts, those with warning severity; null without metrics."),
    )
    prometheus_alerts = fields.Integer(
        data_key="prometheusAlerts",
        allow_none=True,
        metadata=doc(
            "Alerts firing in Prometheus (its alerting rules), before de-duplication; null "
            "without metrics."
        ),
    )


# -- sync and collection status ----------------------------------------------------------------


class UpdatedDeviceSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("GPU id."))
    changed_fields = fields.List(
        fields.String(),
        attribute="fields",
        data_key="fields",
        metadata=doc("Identity fields that changed."),
    )


class UnrecognizedGpuSchema(Schema):
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    device_index = fields.Integer(data_key="deviceIndex", metadata=doc("GPU index on the node."))
    gpu_uuid = fields.String(data_key="gpuUuid", metadata=doc("NVML UUID."))
    product_name = fields.String(
        data_key="productName", metadata=doc("NVML product name the catalogue does not know.")
    )


class SyncResultSchema(Schema):
    trigger = fields.String(
        metadata=doc("What started the run.", enum=["manual", "schedule", "batch"])
    )
    started_at = UtcDateTime(data_key="startedAt", metadata=doc("Start, UTC."))
    finished_at = UtcDateTime(data_key="finishedAt", allow_none=True, metadata=doc("End, UTC."))
    status = fields.String(metadata=doc("OK or FAILED.", enum=["OK", "FAILED"]))
    error = fields.String(allow_none=True, metadata=doc("Why the run failed."))
    nodes = fields.List(
        fields.String(), allow_none=True, metadata=doc("Nodes synced; null for all nodes.")
    )
    nodes_reported = fields.List(
        fields.String(), data_key="nodesReported", metadata=doc("Nodes whose exporter answered.")
    )
    devices_reported = fields.Integer(
        data_key="devicesReported", metadata=doc("GPUs the exporters report (gpu_info).")
    )
    added = fields.List(fields.String(), metadata=doc("GPUs registered by this run."))
    updated = fields.List(
        fields.Nested(UpdatedDeviceSchema),
        metadata=doc("GPUs whose identity fields changed (purchase data is never touched)."),
    )
    lost = fields.List(fields.String(), metadata=doc("GPUs now reported lost (gpu_up 0)."))
    missing = fields.List(
        fields.String(), metadata=doc("GPUs no longer reported (kept, marked MISSING).")
    )
    restored = fields.List(fields.String(), metadata=doc("GPUs reported again."))
    unrecognized = fields.List(
        fields.Nested(UnrecognizedGpuSchema),
        metadata=doc("Reported GPUs of products the catalogue does not know (not registered)."),
    )
    conflicts = fields.List(
        fields.Dict(),
        metadata=doc("Reports the sync would not apply (a known board at another place)."),
    )
    mig_applied = fields.List(
        fields.String(),
        data_key="migApplied",
        metadata=doc("Desired MIG instances the exporter now reports (PENDING -> APPLIED)."),
    )
    mig_unmanaged = fields.List(
        fields.String(),
        data_key="migUnmanaged",
        metadata=doc("Reported MIG instances nobody asked for, recorded as UNMANAGED."),
    )
    mig_pending = fields.List(
        fields.String(),
        data_key="migPending",
        metadata=doc("Instances no longer reported that stay desired or allocated (PENDING)."),
    )
    mig_removed = fields.List(
        fields.String(),
        data_key="migRemoved",
        metadata=doc("Unmanaged instances no longer reported, removed."),
    )
    changed = fields.Boolean(metadata=doc("Whether the run changed the inventory."))
    coalesced = fields.Boolean(
        metadata=doc("The result of a run another worker was doing when this one was asked for.")
    )


class GpuMetricSourceSchema(Schema):
    url = fields.String(metadata=doc("The Prometheus API base URL."))
    reachable = fields.Boolean(metadata=doc("Whether it answered this request."))
    error = fields.String(allow_none=True, metadata=doc("Why not."))


class GpuScrapeTargetSchema(Schema):
    job = fields.String(metadata=doc("Scrape job."))
    instance = fields.String(metadata=doc("Target instance, host:port."))
    node_name = fields.String(
        data_key="nodeName", allow_none=True, metadata=doc("Node of the exporter at the target.")
    )
    scrape_url = fields.String(data_key="scrapeUrl", allow_none=True, metadata=doc("URL."))
    health = fields.String(metadata=doc("up, down or unknown (Prometheus's view)."))
    last_scrape = UtcDateTime(
        data_key="lastScrape", allow_none=True, metadata=doc("Last scrape, UTC.")
    )
    last_scrape_duration_seconds = fields.Float(
        data_key="lastScrapeDurationSeconds",
        allow_none=True,
        metadata=doc("Duration of the last scrape, seconds."),
    )
    freshness_seconds = fields.Float(
        data_key="freshnessSeconds",
        allow_none=True,
        metadata=doc("Seconds since the last scrape."),
    )
    last_error = fields.String(
        data_key="lastError", allow_none=True, metadata=doc("Last scrape error.")
    )


class GpuExporterStateSchema(Schema):
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    version = fields.String(allow_none=True, metadata=doc("Exporter version."))
    devices_expected = fields.Integer(
        data_key="devicesExpected",
        allow_none=True,
        metadata=doc("GPUs the node should have (gpu_exporter_devices_expected)."),
    )
    devices_visible = fields.Integer(
        data_key="devicesVisible",
        allow_none=True,
        metadata=doc("GPUs read in the exporter's last cycle."),
    )
    missing_devices = fields.Integer(
        data_key="missingDevices", allow_none=True, metadata=doc("Expected minus visible.")
    )
    last_sample_at = UtcDateTime(
        data_key="lastSampleAt",
        allow_none=True,
        metadata=doc("Time of the exporter's newest sample in Prometheus, UTC."),
    )
    freshness_seconds = fields.Float(
        data_key="freshnessSeconds",
        allow_none=True,
        metadata=doc("Seconds since that sample."),
    )


class UnrecognizedGpuRecordSchema(Schema):
    gpu_uuid = fields.String(data_key="gpuUuid", metadata=doc("NVML UUID."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    device_index = fields.Integer(data_key="deviceIndex", metadata=doc("GPU index."))
    product_name = fields.String(data_key="productName", metadata=doc("NVML product name."))
    first_seen_at = UtcDateTime(data_key="firstSeenAt", metadata=doc("First report, UTC."))
    last_seen_at = UtcDateTime(data_key="lastSeenAt", metadata=doc("Latest report, UTC."))


class CollectionStatusSchema(Schema):
    last_sync = fields.Nested(
        SyncResultSchema,
        data_key="lastSync",
        allow_none=True,
        metadata=doc("The last inventory sync; null before the first."),
    )
    running_since = UtcDateTime(
        data_key="runningSince",
        allow_none=True,
        metadata=doc("Start of the sync running now, if any, UTC."),
    )
    sync_interval_seconds = fields.Integer(
        data_key="syncIntervalSeconds", metadata=doc("Periodic sync interval, seconds (0: off).")
    )
    prometheus = fields.Nested(GpuMetricSourceSchema, metadata=doc("The metric source."))
    targets = fields.List(
        fields.Nested(GpuScrapeTargetSchema), metadata=doc("Prometheus's active scrape targets.")
    )
    exporters = fields.List(
        fields.Nested(GpuExporterStateSchema), metadata=doc("GPU exporters, one per node.")
    )
    unrecognized_gpus = fields.List(
        fields.Nested(UnrecognizedGpuRecordSchema),
        data_key="unrecognizedGpus",
        metadata=doc("GPUs reported with a product the catalogue does not know."),
    )


# -- batch ---------------------------------------------------------------------------------------


class BatchMetricsCollectRequestSchema(Schema):
    nodes = fields.List(
        Text(validate=validate.Length(1, 253), metadata=doc("A node name.")),
        required=True,
        validate=validate.Length(1, 100),
        metadata=doc("Nodes to collect, 1-100.", example=["gpu-worker-1", "gpu-worker-2"]),
    )
    collect_gpu_metrics = fields.Boolean(
        data_key="collectGpuMetrics",
        load_default=True,
        metadata=doc("Sync the nodes' GPUs and return their averages over timeRange."),
    )
    collect_node_metrics = fields.Boolean(
        data_key="collectNodeMetrics",
        load_default=True,
        metadata=doc("Return the nodes' CPU and memory use (cAdvisor, kube-state-metrics)."),
    )
    time_range = Text(
        data_key="timeRange",
        load_default="1h",
        validate=validate.Regexp(
            r"^[1-9][0-9]{0,3}[hd]$", error="Must be hours or days, e.g. 1h, 24h, 7d."
        ),
        metadata=doc(
            "Window of the GPU averages: hours (1h-2160h) or days (1d-90d).", example="1h"
        ),
    )


class NodeGpuMetricsSchema(Schema):
    devices_registered = fields.Integer(
        data_key="devicesRegistered", metadata=doc("GPUs of the node in the inventory.")
    )
    devices_reported = fields.Integer(
        data_key="devicesReported", metadata=doc("GPUs of the node the exporter reports.")
    )
    avg_gpu_utilization = fields.Float(
        data_key="avgGpuUtilization",
        allow_none=True,
        metadata=doc("Mean of the node's GPUs' utilisation over the window, percent."),
    )
    avg_memory_utilization = fields.Float(
        data_key="avgMemoryUtilization",
        allow_none=True,
        metadata=doc("Mean of the node's GPUs' memory utilisation over the window, percent."),
    )
    avg_temperature = fields.Float(
        data_key="avgTemperature",
        allow_none=True,
        metadata=doc("Mean of the node's GPUs' temperature over the window, °C."),
    )
    device_statistics = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(DeviceUsageSchema),
        data_key="deviceStatistics",
        metadata=doc("Per device id, as in /gpu/metrics/usage-statistics."),
    )


class NodeResourceMetricsSchema(Schema):
    cpu_cores_used = fields.Float(
        data_key="cpuCoresUsed", allow_none=True, metadata=doc("CPU in use now, cores.")
    )
    cpu_cores_allocatable = fields.Float(
        data_key="cpuCoresAllocatable", allow_none=True, metadata=doc("Allocatable CPU, cores.")
    )
    cpu_usage_percent = fields.Float(
        data_key="cpuUsagePercent", allow_none=True, metadata=doc("Used over allocatable, %.")
    )
    memory_used_gb = fields.Float(
        data_key="memoryUsedGb", allow_none=True, metadata=doc("Working-set memory now, GB.")
    )
    memory_allocatable_gb = fields.Float(
        data_key="memoryAllocatableGb", allow_none=True, metadata=doc("Allocatable memory, GB.")
    )
    memory_usage_percent = fields.Float(
        data_key="memoryUsagePercent", allow_none=True, metadata=doc("Used over allocatable, %.")
    )


class NodeCollectResultSchema(Schema):
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    status = fields.String(
        metadata=doc(
            "OK: the node's exporter reports GPUs or the node has series; NOT_FOUND: "
            "Prometheus knows nothing of it.",
            enum=["OK", "NOT_FOUND"],
        )
    )
    gpu_metrics = fields.Nested(
        NodeGpuMetricsSchema,
        data_key="gpuMetrics",
        allow_none=True,
        metadata=doc("Null unless collectGpuMetrics."),
    )
    node_metrics = fields.Nested(
        NodeResourceMetricsSchema,
        data_key="nodeMetrics",
        allow_none=True,
        metadata=doc("Null unless collectNodeMetrics."),
    )


class BatchMetricsCollectResultSchema(Schema):
    time_range = fields.String(data_key="timeRange", metadata=doc("The GPU averages' window."))
    sync = fields.Nested(
        SyncResultSchema,
        allow_none=True,
        metadata=doc("The inventory sync of these nodes; null unless collectGpuMetrics."),
    )
    nodes = fields.List(
        fields.Nested(NodeCollectResultSchema), metadata=doc("One result per requested node.")
    )
