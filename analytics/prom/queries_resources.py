"""PromQL builders of the /resources endpoints: pure functions from parameters to query strings.

Every query aggregates on the server and answers a few rows per pod, node, namespace or device,
never raw samples. Series come under their upstream names: kube-state-metrics (``kube_*``),
cAdvisor (``container_*``) and our exporter (``gpu_*``, docs/metrics.md). Values from callers
reach a query only through analytics.prom.promql's :func:`quote`.

The parts one endpoint needs travel as one *tagged union*: each part's rows get a label (here
``part``) naming the part, the parts are joined with ``or``, and one round trip answers them
all. Parts with the same tag never collide, because the tag differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.prom.promql import duration, quote, select, tagged

TAG = "part"
# cAdvisor also reports the pod's cgroup (container="") and the pause container ("POD"):
# counting them would double a pod's usage.
CONTAINERS = 'container!="",container!="POD"'
# Counters are turned into rates over this window (several scrapes even at a 1m interval).
RATE_WINDOW = "5m"
# kube-state-metrics sanitises "nvidia.com/gpu" into this resource label value.
GPU_RESOURCE = "nvidia_com_gpu"
RUNNING = 'max by (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1)'
POD_INFO_LABELS = "namespace, pod, node, uid, pod_ip, host_ip, created_by_kind, created_by_name"


@dataclass(frozen=True)
class PodScope:
    """Which pods a query covers: all, a namespace, one pod, the pods of a node (combinable)."""

    namespace: str | None = None
    pod: str | None = None
    node: str | None = None

    def matchers(self, *, node: bool = True) -> list[str]:
        """Label matchers; ``node=False`` for kube-state-metrics pod series (no node label)."""
        found = []
        if self.namespace is not None:
            found.append(f"namespace={quote(self.namespace)}")
        if self.pod is not None:
            found.append(f"pod={quote(self.pod)}")
        if node and self.node is not None:
            found.append(f"node={quote(self.node)}")
        return found

    def pod_series(self, metric: str, *extra: str) -> str:
        return select(metric, *extra, *self.matchers(node=False))

    def on_node(self, expr: str) -> str:
        """Keep the (namespace, pod) rows of ``expr`` whose pod is bound to the scope's node."""
        if self.node is None:
            return expr
        pods = f"max by (namespace, pod) ({select('kube_pod_info', *self.matchers())})"
        return f"({expr}) and on (namespace, pod) {pods}"


ALL_PODS = PodScope()


def _node(node: str | None) -> list[str]:
    return [f"node={quote(node)}"] if node is not None else []


# -- pods --------------------------------------------------------------------------------------


def device_utilization(matchers: list[str], by: str) -> str:
    """Utilisation (0-1) of each device held, one row per ``by`` + (uuid, mig_uuid).

    A whole GPU held exclusively: the device's utilisation (all of it is the holder's). A
    time-sliced GPU or a MIG instance: the holder's own SM utilisation from NVML's per-process
    samples where the exporter has it; never the device's value, which belongs to every sharer.
    """
    keys = f"{by}, uuid, mig_uuid"
    exclusive = select("gpu_pod_allocation_info", 'sharing="exclusive"', 'mig_uuid=""', *matchers)
    own = select("gpu_pod_sm_utilization_ratio", *matchers)
    return (
        f"(max by ({keys}) ({exclusive}) * on (uuid) group_left () "
        "max by (uuid) (gpu_utilization_ratio)) "
        f"or sum by ({keys}) ({own})"
    )


def pod_parts(scope: PodScope = ALL_PODS) -> dict[str, str]:
    """Parts with one row per pod of the scope.

    info (kube_pod_info labels: uid, node, host_ip, pod_ip, created_by_*), phase (label
    ``phase``), created (unix s), serving (labels model_type, model_name), cpu_cores, memory_bytes
    (containers' working set), limit_sum/limit_count and request_sum/request_count (label
    ``resource`` cpu or memory: sum over containers and how many containers set one),
    containers (count), gpu_util_sum/gpu_util_count (see device_utilization), gpu_devices
    (GPUs, MIG instances and replicas held), claims (one row per DRA ResourceClaim a device is
    held through: labels claim_namespace, claim_name; none for device-plugin GPUs); plus node_allocatable (label ``resource``, one row
    per node and resource), the fallback denominator of usage percentages.
    """
    matchers = scope.matchers()
    cpu = select("container_cpu_usage_seconds_total", CONTAINERS, *matchers)
    memory = select("container_memory_working_set_bytes", CONTAINERS, *matchers)
    per_device = device_utilization(matchers, "namespace, pod")
    held = select("gpu_pod_allocation_info", *matchers)
    parts = {
        # The labels the pod views read: at thousands of pods kube_pod_info's others (priority
        # class, host network, ...) were a quarter of the list's bytes.
        "info": f"max by ({POD_INFO_LABELS}) ({select('kube_pod_info', *matchers)})",
        "phase": scope.on_node(
            f"max by (namespace, pod, phase) ({scope.pod_series('kube_pod_status_phase')} == 1)"
        ),
        "created": scope.on_node(
            f"max by (namespace, pod) ({scope.pod_series('kube_pod_created')})"
        ),
        "serving": "max by (namespace, pod, model_type, model_name) "
        f"({select('gpu_model_serving_info', *matchers)})",
        "cpu_cores": f"sum by (namespace, pod) (rate({cpu}[{RATE_WINDOW}]))",
        "memory_bytes": f"sum by (namespace, pod) ({memory})",
    }
    for kind, metric in (
        ("limit", "kube_pod_container_resource_limits"),
        ("request", "kube_pod_container_resource_requests"),
    ):
        series = scope.pod_series(metric, 'resource=~"cpu|memory"')
        for stat in ("sum", "count"):
            parts[f"{kind}_{stat}"] = scope.on_node(
                f"{stat} by (namespace, pod, resource) ({series})"
            )
    parts["containers"] = scope.on_node(
        f"count by (namespace, pod) ({scope.pod_series('kube_pod_container_info')})"
    )
    parts["gpu_util_sum"] = f"sum by (namespace, pod) ({per_device})"
    parts["gpu_util_count"] = f"count by (namespace, pod) ({per_device})"
    parts["gpu_devices"] = (
        f"count by (namespace, pod) (max by (namespace, pod, uuid, mig_uuid) ({held}))"
    )
    claimed = select("gpu_pod_allocation_info", 'claim_name!=""', *matchers)
    parts["claims"] = f"max by (namespace, pod, claim_namespace, claim_name) ({claimed})"
    allocatable = select(
        "kube_node_status_allocatable", 'resource=~"cpu|memory"', *_node(scope.node)
    )
    parts["node_allocatable"] = f"max by (node, resource) ({allocatable})"
    return parts


def pods(scope: PodScope = ALL_PODS) -> str:
    """Everything the pod list needs, in one query (see pod_parts)."""
    return tagged(pod_parts(scope), TAG)


def pod_detail(namespace: str, pod: str) -> str:
    """One pod's containers and devices, beside pods(): parts container (kube_pod_container_info
    labels), request and limit (per container and ``resource``, all resources), cpu_cores,
    memory_bytes and restarts (per container), allocation (per container and device: node, gpu,
    uuid, mig_uuid, resource, sharing, claim_namespace, claim_name), own_sm (the container's SM utilisation on a device, 0-1),
    own_memory (its GPU memory there, bytes), device_util (the device's utilisation, joined only
    for whole GPUs held exclusively), mig (gpu_mig_info of the MIG instances it holds)."""
    scope = PodScope(namespace=namespace, pod=pod)
    matchers = scope.matchers()
    keys = "namespace, pod, container"
    device_keys = f"{keys}, uuid, mig_uuid"
    cpu = select("container_cpu_usage_seconds_total", CONTAINERS, *matchers)
    memory = select("container_memory_working_set_bytes", CONTAINERS, *matchers)
    held = select("gpu_pod_allocation_info", *matchers)
    exclusive = select("gpu_pod_allocation_info", 'sharing="exclusive"', 'mig_uuid=""', *matchers)
    return tagged(
        {
            "container": "max without (instance, job) "
            f"({scope.pod_series('kube_pod_container_info')})",
            "request": f"max by ({keys}, resource) "
            f"({scope.pod_series('kube_pod_container_resource_requests')})",
            "limit": f"max by ({keys}, resource) "
            f"({scope.pod_series('kube_pod_container_resource_limits')})",
            "cpu_cores": f"sum by ({keys}) (rate({cpu}[{RATE_WINDOW}]))",
            "memory_bytes": f"sum by ({keys}) ({memory})",
            "restarts": f"max by ({keys}) "
            f"({scope.pod_series('kube_pod_container_status_restarts_total')})",
            "allocation": f"max by ({keys}, node, gpu, uuid, mig_uuid, resource, sharing, "
            f"claim_namespace, claim_name) ({held})",
            "own_sm": f"max by ({device_keys}) "
            f"({select('gpu_pod_sm_utilization_ratio', *matchers)})",
            "own_memory": f"max by ({device_keys}) "
            f"({select('gpu_pod_memory_used_bytes', *matchers)})",
            "device_util": f"max by ({device_keys}) ({exclusive}) * on (uuid) group_left () "
            "max by (uuid) (gpu_utilization_ratio)",
            "mig": "max by (uuid, mig_uuid, profile, gpu_instance_id, compute_instance_id) "
            f"(gpu_mig_info) and on (mig_uuid) max by (mig_uuid) ({held})",
        },
        TAG,
    )


# -- nodes -------------------------------------------------------------------------------------


def node_parts(node: str | None = None) -> dict[str, str]:
    """Parts with rows per node: info (kube_node_info labels), role (label ``role``), condition
    (labels ``condition``, ``status``: each condition's current status), capacity and
    allocatable (label ``resource``: cpu, memory, nvidia_com_gpu), cpu_cores and memory_bytes
    (used by its pods' containers), gpu_util (mean utilisation of its GPUs, 0-1),
    gpu_util_count (GPUs with a utilisation), gpus (GPUs its exporter reports), gpus_up, pods_total (bound to it, any phase), pods_running, serving
    (per ``model_type``, from our exporter's info series)."""
    matchers = _node(node)
    cpu = select("container_cpu_usage_seconds_total", CONTAINERS, *matchers)
    memory = select("container_memory_working_set_bytes", CONTAINERS, *matchers)
    bound = f"max by (node, namespace, pod) ({select('kube_pod_info', *matchers)})"
    resources = f'resource=~"cpu|memory|{GPU_RESOURCE}"'
    parts = {
        "info": f"max without (instance, job) ({select('kube_node_info', *matchers)})",
        "role": f"max by (node, role) ({select('kube_node_role', *matchers)})",
        "condition": "max by (node, condition, status) "
        f"({select('kube_node_status_condition', *matchers)} == 1)",
    }
    for kind in ("capacity", "allocatable"):
        series = select(f"kube_node_status_{kind}", resources, *matchers)
        parts[kind] = f"max by (node, resource) ({series})"
    parts.update(
        {
            "cpu_cores": f"sum by (node) (rate({cpu}[{RATE_WINDOW}]))",
            "memory_bytes": f"sum by (node) ({memory})",
            "gpu_util": "avg by (node) (max by (node, uuid) "
            f"({select('gpu_utilization_ratio', *matchers)}))",
            "gpu_util_count": "count by (node) (max by (node, uuid) "
            f"({select('gpu_utilization_ratio', *matchers)}))",
            "gpus": f"count by (node) (max by (node, uuid) ({select('gpu_info', *matchers)}))",
            "gpus_up": "count by (node) (max by (node, uuid) "
            f"({select('gpu_up', *matchers)}) == 1)",
            "pods_total": f"count by (node) ({bound})",
            "pods_running": f"count by (node) ({bound} * on (namespace, pod) group_left () "
            f"{RUNNING})",
            "serving": "count by (node, model_type) (max by (node, namespace, pod, model_type) "
            f"({select('gpu_model_serving_info', *matchers)}))",
        }
    )
    return parts


def nodes(node: str | None = None) -> str:
    """Everything the node list needs, in one query (see node_parts)."""
    return tagged(node_parts(node), TAG)


def node_gpus(node: str) -> str:
    """Per GPU of a node: info (gpu_info labels: model_name, mig_mode, ...), up, util (0-1),
    memory_used and memory_total (bytes), temperature (°C), power (W); per MIG instance:
    mig (gpu_mig_info labels), mig_memory_used, mig_memory_total (bytes); per holder:
    allocation (namespace, pod, container, uuid, mig_uuid, resource, sharing, claim_namespace,
    claim_name)."""
    matchers = _node(node)
    parts = {"info": f"max without (instance, job) ({select('gpu_info', *matchers)})"}
    for part, metric in (
        ("up", "gpu_up"),
        ("util", "gpu_utilization_ratio"),
        ("memory_used", "gpu_memory_used_bytes"),
        ("memory_total", "gpu_memory_total_bytes"),
        ("temperature", "gpu_temperature_celsius"),
        ("power", "gpu_power_usage_watts"),
    ):
        parts[part] = f"max by (node, gpu, uuid) ({select(metric, *matchers)})"
    parts["mig"] = f"max without (instance, job) ({select('gpu_mig_info', *matchers)})"
    for part, metric in (
        ("mig_memory_used", "gpu_mig_memory_used_bytes"),
        ("mig_memory_total", "gpu_mig_memory_total_bytes"),
    ):
        parts[part] = f"max by (node, gpu, uuid, mig_uuid) ({select(metric, *matchers)})"
    parts["allocation"] = (
        "max by (namespace, pod, container, gpu, uuid, mig_uuid, resource, sharing, "
        f"claim_namespace, claim_name) ({select('gpu_pod_allocation_info', *matchers)})"
    )
    return tagged(parts, TAG)


# -- namespaces --------------------------------------------------------------------------------


def namespaces() -> str:
    """Rows per namespace: pods, running, serving, cpu_cores, memory_bytes, cpu_requests and
    memory_requests (of its Running and Pending pods), gpu_devices, gpu_whole, gpu_mig and
    gpu_shared (each device counted once per namespace however many of its pods share it),
    gpu_util (mean per-device utilisation, see device_utilization); and the cluster's
    allocatable cpu and memory (part cluster_allocatable, label ``resource``)."""
    active = 'max by (namespace, pod) (kube_pod_status_phase{phase=~"Running|Pending"} == 1)'

    def requests(resource: str) -> str:
        series = select("kube_pod_container_resource_requests", f"resource={quote(resource)}")
        return (
            f"sum by (namespace) (sum by (namespace, pod) ({series}) "
            f"* on (namespace, pod) group_left () {active})"
        )

    def devices(*matchers: str) -> str:
        held = select("gpu_pod_allocation_info", *matchers)
        return f"count by (namespace) (max by (namespace, uuid, mig_uuid) ({held}))"

    cpu = select("container_cpu_usage_seconds_total", CONTAINERS)
    memory = select("container_memory_working_set_bytes", CONTAINERS)
    return tagged(
        {
            "pods": "count by (namespace) (max by (namespace, pod) (kube_pod_info))",
            "running": f"count by (namespace) ({RUNNING})",
            "serving": "count by (namespace) (max by (namespace, pod) (gpu_model_serving_info))",
            "cpu_cores": f"sum by (namespace) (rate({cpu}[{RATE_WINDOW}]))",
            "memory_bytes": f"sum by (namespace) ({memory})",
            "cpu_requests": requests("cpu"),
            "memory_requests": requests("memory"),
            "gpu_devices": devices(),
            "gpu_whole": devices('sharing="exclusive"', 'mig_uuid=""'),
            "gpu_mig": devices('mig_uuid!=""'),
            "gpu_shared": devices('sharing="shared"', 'mig_uuid=""'),
            "gpu_util": f"avg by (namespace) ({device_utilization([], 'namespace')})",
            "cluster_allocatable": "sum by (resource) "
            '(kube_node_status_allocatable{resource=~"cpu|memory"})',
        },
        TAG,
    )


# -- health ------------------------------------------------------------------------------------


def health(pending_seconds: int, restart_window_seconds: int, restarts: int) -> str:
    """Everything /resources/health checks, in one query.

    condition (per node and condition: its current status), pods (count), running (count),
    failed (pods in phase Failed), pending (Pending for longer than ``pending_seconds``; value:
    age, s), restarting (``restarts`` or more container restarts within the window; value: the
    restarts), crashloop (a container waiting in CrashLoopBackOff, where kube-state-metrics
    exports the reason), target (per scrape target: up 1 or 0), stage_age (per exporter node and
    stage: seconds since the stage last succeeded), missing_gpus (per exporter node: expected
    minus visible GPUs, when positive).
    """
    pending = 'max by (namespace, pod) (kube_pod_status_phase{phase="Pending"} == 1)'
    window = duration(restart_window_seconds)
    return tagged(
        {
            "condition": "max by (node, condition, status) (kube_node_status_condition == 1)",
            "pods": "count(max by (namespace, pod) (kube_pod_info))",
            "running": f"count({RUNNING})",
            "failed": 'max by (namespace, pod) (kube_pod_status_phase{phase="Failed"} == 1)',
            "pending": "(time() - max by (namespace, pod) (kube_pod_created)) "
            f"* on (namespace, pod) group_left () {pending} > {pending_seconds}",
            "restarting": "sum by (namespace, pod) "
            f"(increase(kube_pod_container_status_restarts_total[{window}])) >= {restarts}",
            "crashloop": "max by (namespace, pod) (kube_pod_container_status_waiting_reason"
            '{reason="CrashLoopBackOff"} == 1)',
            "target": "max by (job, instance) (up)",
            "stage_age": "time() - max by (node, stage) "
            "(gpu_exporter_stage_last_success_timestamp_seconds)",
            "missing_gpus": "max by (node) (gpu_exporter_devices_expected) "
            "- max by (node) (gpu_exporter_devices_visible) > 0",
        },
        TAG,
    )


# The series whose presence and freshness say that a metric source works.
SOURCES: dict[str, str] = {
    "kube-state-metrics": "kube_pod_info",
    "cadvisor": "container_cpu_usage_seconds_total",
    "gpu-exporter": "gpu_exporter_build_info",
}


def source_freshness() -> str:
    """Per metric source of SOURCES: ``<source>/series`` (how many of its marker series there
    are) and ``<source>/age`` (seconds since its newest sample)."""
    parts: dict[str, str] = {}
    for name, metric in SOURCES.items():
        parts[f"{name}/series"] = f"count({metric})"
        parts[f"{name}/age"] = f"time() - max(timestamp({metric}))"
    return tagged(parts, TAG)


# -- statistics over a window ------------------------------------------------------------------

# The recorded cluster-wide series /resources/statistics reports, by the view's name for each:
# group cluster-statistics of alerts/recording-rules.yml (the expressions live there only).
STATISTICS_RULES: dict[str, str] = {
    "cpu": "cluster:container_cpu_usage:ratio",
    "memory": "cluster:container_memory_working_set:ratio",
    "gpu": "cluster:gpu_utilization_ratio:avg1m",
    "pods": "cluster:kube_pods:count",
    "running_pods": "cluster:kube_pods_running:count",
}
# The same group's sums (/resources/forecast reads their hourly means).
CPU_CORES_RULE = "cluster:container_cpu_usage:cores"
MEMORY_BYTES_RULE = "cluster:container_memory_working_set:bytes"
# That group's evaluation interval: the statistics' resolution.
STATISTICS_INTERVAL_SECONDS = 60
# "Now" is a rule's newest sample within Prometheus' default lookback (5 m), as an instant
# selector would see it: normally a minute old at most, and still there across a few missed
# evaluations (a rule evaluator's restart).
_NOW_LOOKBACK = "300s"


def window_statistics(window_seconds: int) -> str:
    """For an instant query at the window's end: per STATISTICS_RULES name, ``<name>/avg`` and
    ``<name>/max`` over the rule's samples in the window (Prometheus 2.x includes both ends; a
    NaN sample makes the average NaN, the peak passes over it) and ``<name>/now``, its newest
    sample. Reads at most one sample a minute per series: the cost does not grow with the
    fleet."""
    parts: dict[str, str] = {}
    for name, rule in STATISTICS_RULES.items():
        parts[f"{name}/avg"] = f"avg_over_time({rule}[{window_seconds}s])"
        parts[f"{name}/max"] = f"max_over_time({rule}[{window_seconds}s])"
        parts[f"{name}/now"] = f"last_over_time({rule}[{_NOW_LOOKBACK}])"
    return tagged(parts, TAG)
