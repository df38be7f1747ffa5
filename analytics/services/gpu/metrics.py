"""Metric-backed GPU use cases: usage statistics, overheating, health, overview, collection status.

Numbers come from Prometheus through PromQL that aggregates on the server (analytics.prom.queries);
the inventory (device ids, models, thresholds, prices) comes from the database. Prometheus
series are joined to devices by GPU uuid, or by (node, index) for devices registered without
one. A Prometheus that cannot answer raises MetricsUnavailable (503), except in the overview,
which mixes the inventory with metrics and answers without them (analytics.services.kernel.partial).
"""

from __future__ import annotations

import functools
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from analytics.clock import Clock, parse_utc
from analytics.errors import MetricsUnavailable, ResourceNotFound
from analytics.prom import PromClient, Sample, Series, frames
from analytics.prom import queries as q
from analytics.prom import utilization as util
from analytics.services.gpu.health import (
    CRITICAL,
    HEALTHY,
    TEMPERATURE_MARGIN_C,
    WARNING,
    DeviceSignals,
    Finding,
    Verdict,
    assess,
    collect_signals,
)
from analytics.services.gpu.overheating import (
    REFINE_STEP_SECONDS,
    Window,
    align,
    chunks,
    hourly_windows,
    join_windows,
    merge_ranges,
)
from analytics.services.kernel.answer_cache import AnswerCache
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.live import LiveDeviceMetrics, Placed
from analytics.services.kernel.live_views import LiveViews
from analytics.services.kernel.numbers import finite, mean, percent, round_or_none
from analytics.services.kernel.partial import MetricsGate
from analytics.services.kernel.pricebook import PriceBook
from analytics.store import allocations as allocation_store
from analytics.store import devices as device_store
from analytics.store import mig as mig_store
from analytics.store.db import Database
from analytics.store.devices import FleetRecord

HOURS_PER_MONTH = 730.0  # 365 * 24 / 12
XID_WINDOW_HOURS = 24
# Recorded fleet aggregates older than this mean the rule evaluation has stopped (Prometheus'
# default evaluation interval is 1 m, the demo's 15 s): the overview reads the raw series.
RECORDED_MAX_AGE_S = 150.0
# How long the time of the newest hourly rule sample is reused (a new one comes each hour).
RULES_END_TTL_S = 60.0
# Live values of at most this many devices are asked for by uuid (a page of a list), more for
# the whole fleet.
LIVE_UUID_SCOPE_LIMIT = 200
# Overheating windows of a request for up to FULL_DETAIL_HOURS are read from the raw series at
# REFINE_STEP_SECONDS throughout. Longer requests read the last DETAIL_HOURS so, and older hot
# hours from the hourly maxima alone, at an hour's resolution (as a long-term store downsamples
# them; a month of minute readings around every hot hour of 8,000 GPUs was 360 queries).
FULL_DETAIL_HOURS = 168
DETAIL_HOURS = 24
# The overview's fields that come from Prometheus: null in a partial answer.
OVERVIEW_METRIC_FIELDS = (
    "devices_reporting",
    "overall_gpu_utilization",
    "overall_memory_utilization",
    "overall_temperature",
    "total_alerts",
    "critical_alerts",
    "warning_alerts",
    "prometheus_alerts",
)
MIG_METRIC_FIELDS = (
    "instances_reporting",
    "utilization",
    "utilization_source",
    "memory_used_gb",
    "memory_total_gb",
    "memory_utilization",
)


@dataclass(frozen=True)
class FleetDevice:
    """A registered GPU with what the metric endpoints need from the inventory."""

    device_id: str
    node_name: str
    device_index: int
    model_id: str
    model_name: str
    gpu_uuid: str | None
    status: str
    presence: str | None
    threshold_c: float
    memory_gb: float
    price_per_hour: float | None
    allocated: bool


P = TypeVar("P", bound=Placed)


class Places(Generic[P]):
    """Devices indexed for joining Prometheus series (by uuid, then by node and index)."""

    def __init__(self, devices: Sequence[P]) -> None:
        self.devices = list(devices)
        self._by_id = {d.device_id: d for d in devices}
        self._by_uuid = {d.gpu_uuid: d for d in devices if d.gpu_uuid}
        self._by_place = {(d.node_name, str(d.device_index)): d for d in devices}

    def get(self, device_id: str) -> P | None:
        return self._by_id.get(device_id)

    def resolve(self, labels: Mapping[str, str]) -> P | None:
        device = self._by_uuid.get(labels.get("uuid", ""))
        if device is not None:
            return device
        place = self._by_place.get((labels.get("node", ""), labels.get("gpu", "")))
        series_uuid = labels.get("uuid", "")
        # A series without a uuid (an exporter that started while the GPU was unreadable)
        # belongs to the place; one with another uuid is another board.
        if place is not None and (not place.gpu_uuid or not series_uuid):
            return place
        return None


@dataclass(frozen=True)
class FleetFindings:
    """What the fleet's health and overview read from Prometheus."""

    fleet_now: dict[str | None, float]  # q.fleet_now's aggregates by stat
    firing: list[Sample]  # firing alerts of the project's rules
    health: list[list[Sample]]  # the answers of q.fleet_health


class Fleet(Places[FleetDevice]):
    """The inventory with what the metric endpoints need, indexed for joining series."""

    def key(self, device: FleetDevice) -> str:
        """The join key of its series in frames: the uuid, or node/index without one."""
        return device.gpu_uuid or f"{device.node_name}/{device.device_index}"


def series_key(labels: Mapping[str, str], fleet: Fleet) -> str:
    device = fleet.resolve(labels)
    if device is not None:
        return fleet.key(device)
    return labels.get("uuid", "")


class GpuMetricsService:
    def __init__(
        self,
        database: Database,
        catalogue: Catalogue,
        clock: Clock,
        prom: PromClient,
        prices: PriceBook,
        views: LiveViews | None = None,
        gate: MetricsGate | None = None,
    ) -> None:
        self._db = database
        self._prices = prices
        # The metric parts of partial answers (the app's, shared with the other endpoints).
        self._gate = gate or MetricsGate()
        # Fleet-wide readings, kept per worker for live_view_seconds (the inventory they are
        # joined to is read per request).
        self._views = views or LiveViews(0)
        self._catalogue = catalogue
        self._clock = clock
        self._prom = prom
        # (time.monotonic() of the lookup, its answer): see _rules_end.
        self._rules_end_cache: tuple[float, float | None] | None = None
        # Answers of the hourly rules over windows ending at a past rule sample, by query (the
        # query holds the window's end): they do not change, and a month of them is the
        # dearest read of usage statistics (16 million samples at 8,000 GPUs).
        self._past_windows: AnswerCache[list[Sample]] = AnswerCache(
            ttl_s=2 * q.RULE_INTERVAL_SECONDS, max_entries=32
        )
        self._past_ranges: AnswerCache[list[Series]] = AnswerCache(
            ttl_s=2 * q.RULE_INTERVAL_SECONDS, max_entries=32
        )

    # -- inventory -----------------------------------------------------------------------------

    def fleet(self, nodes: Sequence[str] | None = None) -> Fleet:
        with self._db.read() as conn:
            records = device_store.list_fleet(conn, self._clock.now())
            prices = self._prices.hourly_prices(conn)
        if nodes is not None:
            wanted = set(nodes)
            records = [r for r in records if r.node_name in wanted]
        return Fleet([self._fleet_device(r, prices) for r in records])

    def _fleet_device(self, record: FleetRecord, prices: Mapping[str, float | None]) -> FleetDevice:
        model = self._catalogue.model(record.model_id)
        return FleetDevice(
            device_id=record.device_id,
            node_name=record.node_name,
            device_index=record.device_index,
            model_id=record.model_id,
            model_name=model.model_name,
            gpu_uuid=record.gpu_uuid,
            status=record.status,
            presence=record.presence,
            threshold_c=model.overheat_threshold_c,
            memory_gb=model.memory_gb,
            price_per_hour=prices.get(record.model_id),
            allocated=record.allocated,
        )

    # -- live values ---------------------------------------------------------------------------

    def live_values(self, devices: Sequence[Placed]) -> dict[str, LiveDeviceMetrics]:
        """Temperature, power and utilisation (percent) of ``devices`` by device id: one query,
        for the whole fleet (a live view) or, for a few devices, just their uuids."""
        fleet = Places(devices)
        scope = q.ALL_DEVICES
        if len(devices) <= LIVE_UUID_SCOPE_LIMIT:
            uuids = [d.gpu_uuid for d in devices if d.gpu_uuid]
            if len(uuids) == len(devices):
                scope = q.DeviceScope(uuids=uuids)
        parts = q.live_device_parts(scope)
        if scope is q.ALL_DEVICES:
            samples = self._views.get(
                "gpu-readings", lambda: self._prom.query_parts(parts, q.STAT_LABEL)
            ).value
        else:
            samples = self._prom.query_parts(parts, q.STAT_LABEL)
        values: dict[str, dict[str, float]] = {}
        for sample in samples:
            device = fleet.resolve(sample.labels)
            if device is not None and math.isfinite(sample.value):
                values.setdefault(device.device_id, {})[sample.labels.get(q.STAT_LABEL, "")] = (
                    sample.value
                )
        return {
            device_id: LiveDeviceMetrics(
                temperature_c=v.get("gpu_temperature_celsius"),
                power_w=round_or_none(v.get("gpu_power_usage_watts"), 1),
                utilization_percent=percent(v.get("gpu_utilization_ratio")),
            )
            for device_id, v in values.items()
        }

    # -- usage statistics ----------------------------------------------------------------------

    def usage_statistics(self, hours: int, nodes: Sequence[str] | None = None) -> dict[str, Any]:
        fleet = self.fleet(nodes)
        if nodes is None:
            read = self._views.get(
                ("usage-statistics", hours), lambda: self._usage_samples(hours, None)
            ).value
        else:
            read = self._usage_samples(hours, nodes)
        samples, end, rules_end = read
        table = frames.pivot(_keyed(samples, fleet), "key", q.STAT_LABEL)

        device_stats: dict[str, dict[str, Any]] = {}
        rows: list[dict[str, Any]] = []
        for device in fleet.devices:
            key = fleet.key(device)
            row = table.get(key)
            if row is None:
                continue
            sm_active = _cell(row, "sm_active")
            source = util.source(sm_active is not None)
            utilization = percent(sm_active if sm_active is not None else _cell(row, "utilization"))
            total = _cell(row, "memory_total") or device.memory_gb * 2**30
            used = _cell(row, "memory_used")
            memory = percent(used / total) if used is not None and total else None
            temperature = round_or_none(_cell(row, "temperature"), 2)
            if utilization is None and memory is None and temperature is None:
                continue
            device_stats[device.device_id] = {
                "model_id": device.model_id,
                "model_name": device.model_name,
                "node_name": device.node_name,
                "avg_gpu_utilization": utilization,
                "utilization_source": source if utilization is not None else None,
                "avg_memory_utilization": memory,
                "avg_temperature": temperature,
            }
            rows.append(
                {
                    "model_id": device.model_id,
                    "utilization": utilization,
                    "memory": memory,
                    "temperature": temperature,
                }
            )
        model_stats: dict[str, dict[str, Any]] = {}
        means = frames.group_means(rows, "model_id", ["utilization", "memory", "temperature"])
        for model_id, group in sorted(means.items()):
            model_stats[model_id] = {
                "device_count": int(group["count"] or 0),
                "avg_gpu_utilization": round_or_none(group["utilization"], 2),
                "avg_memory_utilization": round_or_none(group["memory"], 2),
                "avg_temperature": round_or_none(group["temperature"], 2),
            }
        return {
            "time_range": f"{hours} hours",
            "window_start": _utc(end - hours * 3600),
            "window_end": _utc(end),
            "source": "recording-rules" if rules_end is not None else "raw",
            "device_statistics": device_stats,
            "model_statistics": model_stats,
        }

    def _usage_samples(
        self, hours: int, nodes: Sequence[str] | None
    ) -> tuple[list[Sample], float, float | None]:
        """The statistics' samples, the window's end and the rules' end (None: raw)."""
        now = self._clock.now().timestamp()
        rules_end = self._rules_end(hours)
        parts = q.usage_statistics_parts(hours, now, now, rules_end, q.DeviceScope(nodes=nodes))
        # Over the rules each window ends at a past rule sample: its answer is kept.
        # (memory_total is read now, and is not.)
        windows = [stat for stat in parts if stat != "memory_total"] if rules_end else []
        samples = self._prom.query_parts(
            parts, q.STAT_LABEL, cached=self._past_windows.get, cached_parts=windows
        )
        return samples, rules_end if rules_end is not None else now, rules_end

    def _rules_end(self, hours: int) -> float | None:
        """The newest hourly rule sample, when the window is long enough to use the rules.

        A new one comes once an hour, so the answer is kept for RULES_END_TTL_S: finding it
        costs Prometheus a subquery (~20 ms at 512 GPUs), more than the rest of a day's window.
        """
        if hours < q.RAW_WINDOW_LIMIT_HOURS:
            return None
        checked = time.monotonic()
        cached = self._rules_end_cache
        if cached is not None and checked - cached[0] < RULES_END_TTL_S:
            return cached[1]
        found = self._prom.query(q.latest_rule_evaluation())
        end = found[0].value if found and math.isfinite(found[0].value) else None
        self._rules_end_cache = (checked, end)
        return end

    # -- overheating ---------------------------------------------------------------------------

    def overheating_devices(self) -> list[dict[str, Any]]:
        """Devices whose temperature is above their model's threshold now."""
        fleet = self.fleet()
        floor = _floor(fleet)
        if floor is None:
            return []
        hot = []
        for sample in self._prom.query(q.hot_devices(floor)):
            device = fleet.resolve(sample.labels)
            if device is None or sample.value <= device.threshold_c:
                continue
            hot.append(
                {
                    "device_id": device.device_id,
                    "node_name": device.node_name,
                    "model_id": device.model_id,
                    "model_name": device.model_name,
                    "current_temp_c": sample.value,
                    "threshold_c": device.threshold_c,
                    "excess_c": round(sample.value - device.threshold_c, 2),
                    "severity": CRITICAL,
                    "measured_at": _utc(sample.timestamp),
                }
            )
        return sorted(hot, key=lambda h: (-h["excess_c"], h["device_id"]))

    def overheating_alerts(self, hours: int) -> dict[str, Any]:
        """Windows in which a GPU was above its model's threshold within the last ``hours``: a
        live view (at 8,000 GPUs a month of them is 30,000 windows from 19 queries)."""
        return self._views.get(
            ("overheating-alerts", hours), lambda: self._overheating_alerts(hours)
        ).value

    def _overheating_alerts(self, hours: int) -> dict[str, Any]:
        """Windows in which a GPU was above its model's threshold within the last ``hours``.

        Long windows first find the device-hours whose hourly maximum (recording rule) was
        hot, then read the raw series at a one-minute step only around those hours; the last
        hour or two, not yet in a rule sample, is always read raw.
        """
        prom = self._prom
        fleet = self.fleet()
        now = self._clock.now().timestamp()
        start = now - hours * 3600
        floor = _floor(fleet)
        if floor is None:
            return _alerts_result(hours, start, now, [])
        thresholds = {fleet.key(d): d.threshold_c for d in fleet.devices}
        ranges: list[tuple[float, float, set[str] | None]] = []
        # Hot hours before this are reported at the hourly records' resolution.
        detail_from = now - DETAIL_HOURS * 3600 if hours > FULL_DETAIL_HOURS else start
        coarse: dict[str, list[tuple[float, float]]] = {}
        rules_end = self._rules_end(hours)
        if rules_end is not None and rules_end > start:
            hourly = self._hot_hours(
                floor, align(start, 3600, up=True), align(rules_end, 3600, up=True)
            )
            for series in hourly:
                key = series_key(series.labels, fleet)
                threshold = thresholds.get(key)
                for t, value in series.points:
                    if threshold is None or value <= threshold:
                        continue
                    if t <= detail_from:
                        coarse.setdefault(key, []).append((t, value))
                    else:
                        held = {series.labels["uuid"]}
                        ranges.append((max(detail_from, t - 7200), min(now, t), held))
            raw_from = max(start, rules_end - 3600)
        else:
            raw_from = start
        ranges.append((raw_from, now, None))
        refinements = []
        for range_start, range_end, uuids in merge_ranges(ranges):
            scope = q.DeviceScope(uuids=sorted(uuids)) if uuids is not None else q.ALL_DEVICES
            for chunk_start, chunk_end in chunks(range_start, range_end):
                refinements.append(
                    (
                        q.temperature_above(floor, scope),
                        align(chunk_start, REFINE_STEP_SECONDS, up=True),
                        chunk_end,
                        float(REFINE_STEP_SECONDS),
                    )
                )
        points = [s for answer in prom.query_ranges(refinements) for s in answer]
        # Overlapping refinement ranges may return a time twice: points_by keeps one.
        by_device = frames.points_by(
            [Series({"key": series_key(s.labels, fleet)}, s.points) for s in points], "key"
        )
        runs = frames.runs_above(by_device, thresholds, REFINE_STEP_SECONDS * 1.5)
        by_key = {fleet.key(d): d for d in fleet.devices}
        windows: dict[str, list[Window]] = {}
        for run in runs:
            first, last = run.start, run.end
            # Each reading stands for one step: a single hot reading is one minute.
            minutes = (last - first + REFINE_STEP_SECONDS) / 60.0
            ongoing = now - last <= 2 * REFINE_STEP_SECONDS
            window = Window(first, last, minutes, run.peak, ongoing)
            windows.setdefault(run.key, []).append(window)
        alerts: list[dict[str, Any]] = []
        for key in windows.keys() | coarse.keys():
            device = by_key.get(key)
            if device is None:
                continue
            found = join_windows(
                hourly_windows(coarse.get(key, [])), windows.get(key, []), detail_from
            )
            alerts.extend(_alert(device, *w) for w in found)
        alerts.sort(key=lambda a: (a["start"], a["device_id"]))
        return _alerts_result(hours, start, now, alerts)

    def _hot_hours(self, floor: float, start: float, end: float) -> list[Series]:
        """Hourly maxima above ``floor`` at each hour in [start, end] (hours aligned), in
        week-long range queries side by side; kept, since the hours are past and their rule
        samples do not change (a month at 8,000 GPUs reads 5.7 million samples)."""
        promql = q.hourly_temperature_above(floor)
        week = 7 * 24 * 3600
        chunks = []
        while start <= end:
            chunks.append((start, min(end, start + week - 3600)))
            start += week

        def chunk(first: float, last: float) -> Callable[[], list[Series]]:
            def compute() -> list[Series]:
                return self._prom.query_range(promql, first, last, 3600)

            return lambda: self._past_ranges.get((promql, first, last), compute)

        answers = self._prom.gather([chunk(first, last) for first, last in chunks])
        return [series for answer in answers for series in answer]

    # -- health --------------------------------------------------------------------------------

    def device_health(self, device_id: str) -> dict[str, Any]:
        fleet = self.fleet()
        device = fleet.get(device_id)
        if device is None:
            raise ResourceNotFound(f"GPU device {device_id} not found.", {"deviceId": device_id})
        # The node's series, not the uuid's: an exporter that started while the GPU was
        # unreadable reports it without a uuid (joined by node and index).
        scope = q.DeviceScope(nodes=[device.node_name])
        samples = self._prom.query(q.device_health(scope, XID_WINDOW_HOURS * 3600))
        signals = _signals_for(fleet, samples)
        return self._health_view(device, signals.get(device.device_id))

    def _fleet_health_reads(self) -> list[Callable[[], list[Sample]]]:
        """The findings-only health queries (q.fleet_health), to run side by side. The
        temperature floor is the lowest threshold of any catalogue model, so the queries do
        not wait for the inventory."""
        prom = self._prom
        floor = min(m.overheat_threshold_c for m in self._catalogue.models.values())
        queries = q.fleet_health(
            floor - TEMPERATURE_MARGIN_C, q.ALL_DEVICES, XID_WINDOW_HOURS * 3600
        )
        return [functools.partial(prom.query, query) for query in queries]

    def _read_fleet(self) -> tuple[Fleet, int, int]:
        """The inventory, MIG instance count and live allocation count, in one snapshot."""
        now = self._clock.now()
        with self._db.read() as conn:
            records = device_store.list_fleet(conn, now)
            mig_count = mig_store.count_instances(conn)
            active = allocation_store.count_active(conn, now)
            prices = self._prices.hourly_prices(conn)
        return Fleet([self._fleet_device(r, prices) for r in records]), mig_count, active

    def _fleet_signals(
        self, fleet: Fleet, answers: Sequence[Sequence[Sample]]
    ) -> dict[str, DeviceSignals]:
        """Signals of every device from the findings-only answers. A device with no finding
        is up if the inventory sync last saw it (REPORTED, or LOST and not lost now),
        unreported if it went MISSING, unknown if never reported."""
        signals = _signals_for(fleet, [s for answer in answers for s in answer])
        for device in fleet.devices:
            entry = signals.setdefault(device.device_id, DeviceSignals())
            if entry.up is None and device.presence in ("REPORTED", "LOST"):
                entry.up = True
        return signals

    def _fleet_findings(self) -> FleetFindings:
        """The fleet aggregates, firing alerts and health findings from Prometheus: a live view
        read by /gpu/health and /gpu/overview."""

        def read() -> FleetFindings:
            prom = self._prom
            reads: list[Callable[[], list[Sample]]] = [
                functools.partial(prom.query, q.fleet_now_recorded()),
                *self._fleet_health_reads(),
            ]
            recorded, *answers = prom.gather(reads, max_parallel=len(reads))
            firing = [s for s in recorded if s.labels.get(q.STAT_LABEL) == q.FIRING_ALERT]
            return FleetFindings(self._fleet_now(recorded), firing, answers)

        return self._views.get("gpu-fleet-findings", read).value

    def cluster_health(self) -> dict[str, Any]:
        answers = self._fleet_findings().health
        fleet, _mig, _active = self._read_fleet()
        signals = self._fleet_signals(fleet, answers)
        views = [self._health_view(d, signals.get(d.device_id)) for d in fleet.devices]
        counts = Counter(v["status"] for v in views)
        reasons = Counter(f["code"] for v in views for f in v["reasons"] if f["severity"] != "INFO")
        status = CRITICAL if counts[CRITICAL] else WARNING if counts[WARNING] else HEALTHY
        return {
            "status": status,
            "total_devices": len(views),
            "healthy_devices": counts[HEALTHY],
            "warning_devices": counts[WARNING],
            "critical_devices": counts[CRITICAL],
            "reasons": dict(sorted(reasons.items())),
            "devices_by_node": _by_node(views),
            "unhealthy": [v for v in views if v["status"] != HEALTHY],
            "checked_at": self._clock.now(),
        }

    def _verdict(self, device: FleetDevice, signals: DeviceSignals | None) -> Verdict:
        return assess(
            signals,
            device.threshold_c,
            ever_reported=device.presence is not None,
            xid_window_hours=XID_WINDOW_HOURS,
        )

    def _health_view(self, device: FleetDevice, signals: DeviceSignals | None) -> dict[str, Any]:
        verdict = self._verdict(device, signals)
        return {
            "device_id": device.device_id,
            "node_name": device.node_name,
            "model_id": device.model_id,
            "status": verdict.status,
            "reasons": [_finding(f) for f in verdict.findings],
            # The fleet view reads temperatures only near or above a threshold.
            "temperature_c": signals.temperature_c if signals else None,
            "threshold_c": device.threshold_c,
            "xid_counts": {
                str(k): v for k, v in sorted((signals.xid_counts if signals else {}).items())
            },
            "xid_window_hours": XID_WINDOW_HOURS,
            "checked_at": self._clock.now(),
        }

    # -- overview ------------------------------------------------------------------------------

    def _fleet_now(self, recorded: Sequence[Sample]) -> dict[str | None, float]:
        """The fleet aggregates from the recording rules (q.fleet_now_recorded) while their
        evaluation is current; from the raw series when the rules are not loaded (a Prometheus
        without the project's rules) or have not been evaluated for RECORDED_MAX_AGE_S."""
        values = {
            s.labels.get(q.STAT_LABEL): s.value
            for s in recorded
            if s.labels.get(q.STAT_LABEL) != q.FIRING_ALERT
        }
        recorded_at = values.pop(q.RECORDED_AT, None)
        if recorded_at is not None and recorded[0].timestamp - recorded_at <= RECORDED_MAX_AGE_S:
            return values
        return {s.labels.get(q.STAT_LABEL): s.value for s in self._prom.query(q.fleet_now())}

    def overview(self) -> dict[str, Any]:
        """Counts and costs from the inventory; utilisation, reporting devices and alerts from
        Prometheus, null with the reason when it cannot answer (a partial answer)."""
        fleet, mig_count, active = self._read_fleet()
        found = self._gate.read(self._fleet_findings, "the overview's metrics")
        priced = [d.price_per_hour or 0.0 for d in fleet.devices]
        hourly = round(sum(priced), 2)
        inventory = {
            "total_nodes": len({d.node_name for d in fleet.devices}),
            "total_gpu_devices": len(fleet.devices),
            "total_mig_instances": mig_count,
            "active_allocations": active,
            "devices_by_model": dict(sorted(Counter(d.model_id for d in fleet.devices).items())),
            "total_hourly_cost": hourly,
            "total_monthly_cost": round(hourly * HOURS_PER_MONTH, 2),
        }
        if found.value is None:
            return {**inventory, **dict.fromkeys(OVERVIEW_METRIC_FIELDS), **found.flags()}
        return {**inventory, **self._overview_metrics(fleet, found.value), **found.flags()}

    def _overview_metrics(self, fleet: Fleet, found: FleetFindings) -> dict[str, Any]:
        signals = self._fleet_signals(fleet, found.health)
        firing, fleet_now = found.firing, found.fleet_now
        findings = [
            (d.device_id, f.severity)
            for d in fleet.devices
            for f in self._verdict(d, signals.get(d.device_id)).findings
            if f.severity in (CRITICAL, WARNING)
        ]
        uuid_to_id = {d.gpu_uuid: d.device_id for d in fleet.devices if d.gpu_uuid}
        flagged = set(findings)
        prom_alerts = []
        for alert in firing:
            labels = alert.labels
            severity = str(labels.get("severity", "warning")).upper()
            device_id = uuid_to_id.get(labels.get("uuid", ""))
            # Our own check already counts this device at this severity: do not count twice.
            if device_id is not None and (device_id, severity) in flagged:
                continue
            prom_alerts.append(severity)
        critical = sum(1 for _d, s in findings if s == CRITICAL) + prom_alerts.count(CRITICAL)
        warning = sum(1 for _d, s in findings if s == WARNING) + prom_alerts.count(WARNING)
        used, total = fleet_now.get("memory_used"), fleet_now.get("memory_total")
        return {
            "devices_reporting": int(fleet_now.get("devices_up") or 0),
            "overall_gpu_utilization": percent(finite(fleet_now.get("utilization"))),
            "overall_memory_utilization": (
                percent(used / total) if used is not None and total else None
            ),
            "overall_temperature": round_or_none(finite(fleet_now.get("temperature")), 2),
            "total_alerts": len(findings) + len(prom_alerts),
            "critical_alerts": critical,
            "warning_alerts": warning,
            "prometheus_alerts": len(firing),
        }

    # -- MIG -----------------------------------------------------------------------------------

    def mig_memory(self) -> dict[str, Any]:
        """The MIG instances the exporters report now and their memory in use (the metric part
        of /gpu/mig/statistics)."""
        values = {
            s.labels.get(q.STAT_LABEL): s.value
            for s in self._prom.query(q.mig_memory())
            if math.isfinite(s.value)
        }
        used, total = values.get("memory_used"), values.get("memory_total")
        sm_active = values.get("sm_active")
        return {
            "instances_reporting": int(values.get("instances") or 0),
            "utilization": percent(sm_active),
            "utilization_source": util.SM_ACTIVE if sm_active is not None else None,
            "memory_used_gb": round_or_none(used / 1e9, 3) if used is not None else None,
            "memory_total_gb": round_or_none(total / 1e9, 3) if total is not None else None,
            "memory_utilization": percent(used / total) if used is not None and total else None,
        }

    # -- batch collection ----------------------------------------------------------------------

    def collect_nodes(
        self,
        nodes: Sequence[str],
        window_hours: int,
        gpu_metrics: bool,
        node_metrics: bool,
        sync: Callable[[Sequence[str]], Any] | None,
    ) -> dict[str, Any]:
        """Per node: sync its GPUs (``sync``), their averages over the window, and the node's
        CPU and memory use. Unknown nodes are answered NOT_FOUND, not refused."""
        wanted = sorted(set(nodes), key=list(nodes).index)
        sync_result = sync(wanted) if gpu_metrics and sync is not None else None
        usage: dict[str, Any] = {}
        if gpu_metrics:
            usage = self.usage_statistics(window_hours, nodes=wanted)
        resources: dict[str, dict[str, float]] = {}
        if node_metrics:
            for sample in self._prom.query(q.node_usage(wanted)):
                node = sample.labels.get("node", "")
                stat = sample.labels.get(q.STAT_LABEL, "")
                if node and math.isfinite(sample.value):
                    resources.setdefault(node, {})[stat] = sample.value
        fleet = self.fleet(wanted)
        registered = Counter(d.node_name for d in fleet.devices)
        reported_devices = Counter(
            d.node_name for d in fleet.devices if d.presence in ("REPORTED", "LOST")
        )
        results = []
        for node in wanted:
            devices = {
                device_id: stats
                for device_id, stats in usage.get("device_statistics", {}).items()
                if stats["node_name"] == node
            }
            gpu_part = None
            if gpu_metrics:
                gpu_part = {
                    "devices_registered": registered[node],
                    "devices_reported": reported_devices[node],
                    "avg_gpu_utilization": mean(d["avg_gpu_utilization"] for d in devices.values()),
                    "avg_memory_utilization": mean(
                        d["avg_memory_utilization"] for d in devices.values()
                    ),
                    "avg_temperature": mean(d["avg_temperature"] for d in devices.values()),
                    "device_statistics": devices,
                }
            node_part = None
            values = resources.get(node, {})
            if node_metrics:
                cpu, cpu_total = values.get("cpu_cores"), values.get("cpu_allocatable")
                memory, memory_total = values.get("memory_bytes"), values.get("memory_allocatable")
                node_part = {
                    "cpu_cores_used": round_or_none(cpu, 3),
                    "cpu_cores_allocatable": cpu_total,
                    "cpu_usage_percent": percent(cpu / cpu_total)
                    if cpu is not None and cpu_total
                    else None,
                    "memory_used_gb": round_or_none(memory / 1e9, 3)
                    if memory is not None
                    else None,
                    "memory_allocatable_gb": (
                        round_or_none(memory_total / 1e9, 3) if memory_total is not None else None
                    ),
                    "memory_usage_percent": (
                        percent(memory / memory_total)
                        if memory is not None and memory_total
                        else None
                    ),
                }
            found = bool(values) or registered[node] > 0 or bool(devices)
            if sync_result is not None and node in getattr(sync_result, "nodes_reported", []):
                found = True
            results.append(
                {
                    "node_name": node,
                    "status": "OK" if found else "NOT_FOUND",
                    "gpu_metrics": gpu_part,
                    "node_metrics": node_part,
                }
            )
        return {"time_range": f"{window_hours} hours", "sync": sync_result, "nodes": results}

    # -- collection status ---------------------------------------------------------------------

    def collection_status(self) -> dict[str, Any]:
        """Scrape targets and exporters as Prometheus sees them; never raises for a down
        Prometheus (the answer says so instead)."""
        prom = self._prom
        now = self._clock.now().timestamp()
        result: dict[str, Any] = {
            "prometheus": {"url": prom.base_url, "reachable": True, "error": None},
            "targets": [],
            "exporters": [],
        }
        try:
            samples = prom.query(q.exporter_status())
            targets = prom.targets()
        except MetricsUnavailable as exc:
            result["prometheus"].update(reachable=False, error=exc.message)
            return result
        exporters: dict[str, dict[str, Any]] = {}
        node_by_instance: dict[tuple[str, str], str] = {}
        for sample in samples:
            node = sample.labels.get("node", "")
            if not node:
                continue
            entry = exporters.setdefault(
                node,
                {
                    "node_name": node,
                    "version": None,
                    "devices_expected": None,
                    "devices_visible": None,
                    "last_sample_at": None,
                    "freshness_seconds": None,
                },
            )
            stat = sample.labels.get(q.STAT_LABEL)
            if stat == "build":
                entry["version"] = sample.labels.get("version")
                node_by_instance[
                    (sample.labels.get("job", ""), sample.labels.get("instance", ""))
                ] = node
            elif stat == "expected":
                entry["devices_expected"] = int(sample.value)
            elif stat == "visible":
                entry["devices_visible"] = int(sample.value)
            elif stat == "sample_time":
                entry["last_sample_at"] = _utc(sample.value)
                entry["freshness_seconds"] = round(max(0.0, now - sample.value), 1)
        for entry in exporters.values():
            expected, visible = entry["devices_expected"], entry["devices_visible"]
            entry["missing_devices"] = (
                max(0, expected - visible) if expected is not None and visible is not None else None
            )
        for target in targets:
            labels = target.get("labels") or {}
            job, instance = labels.get("job", ""), labels.get("instance", "")
            last = _parse_time(target.get("lastScrape"))
            result["targets"].append(
                {
                    "job": job,
                    "instance": instance,
                    "node_name": node_by_instance.get((job, instance)),
                    "scrape_url": target.get("scrapeUrl"),
                    "health": target.get("health"),
                    "last_scrape": _utc(last) if last else None,
                    "last_scrape_duration_seconds": target.get("lastScrapeDuration"),
                    "freshness_seconds": round(max(0.0, now - last), 1) if last else None,
                    "last_error": target.get("lastError") or None,
                }
            )
        result["exporters"] = sorted(exporters.values(), key=lambda e: e["node_name"])
        result["targets"].sort(key=lambda t: (t["job"], t["instance"]))
        return result


# -- helpers ---------------------------------------------------------------------------------


def _keyed(samples: Sequence[Sample], fleet: Fleet) -> list[Sample]:
    """Samples relabelled with the fleet's join key (uuid, or node/index), for pivoting."""
    return [
        Sample({**s.labels, "key": series_key(s.labels, fleet)}, s.value, s.timestamp)
        for s in samples
    ]


def _signals_for(fleet: Fleet, samples: Sequence[Sample]) -> dict[str, DeviceSignals]:
    by_key = collect_signals(
        [
            Sample({**s.labels, "uuid": series_key(s.labels, fleet)}, s.value, s.timestamp)
            for s in samples
        ]
    )
    return {d.device_id: by_key[fleet.key(d)] for d in fleet.devices if fleet.key(d) in by_key}


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "message": finding.message,
        "value": finding.value,
        "threshold": finding.threshold,
        "xid": finding.xid,
        "count": finding.count,
    }


def _by_node(views: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    nodes: dict[str, dict[str, int]] = {}
    for view in views:
        entry = nodes.setdefault(view["node_name"], {HEALTHY: 0, WARNING: 0, CRITICAL: 0})
        entry[view["status"]] += 1
    return dict(sorted(nodes.items()))


def _alerts_result(
    hours: int, start: float, end: float, alerts: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "time_range": f"{hours} hours",
        "window_start": _utc(start),
        "window_end": _utc(end),
        "total_alerts": len(alerts),
        "affected_devices": len({a["device_id"] for a in alerts}),
        "alerts": alerts,
    }


def _alert(
    device: FleetDevice, first: float, last: float, minutes: float, peak: float, ongoing: bool
) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "node_name": device.node_name,
        "model_id": device.model_id,
        "start": _utc(first),
        "end": _utc(last),
        "duration_minutes": round(minutes, 1),
        "peak_temperature": peak,
        "threshold": device.threshold_c,
        "ongoing": ongoing,
        "severity": CRITICAL,
    }


def _floor(fleet: Fleet) -> float | None:
    return min((d.threshold_c for d in fleet.devices), default=None)


def _cell(row: Mapping[str, float], column: str) -> float | None:
    return _nan(row.get(column))


def _nan(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    # Prometheus gives nanoseconds (2026-11-26T09:10:48.473758873Z); Python keeps micro.
    try:
        return parse_utc(text).timestamp()
    except ValueError:
        return None
