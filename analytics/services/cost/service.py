"""Cost use cases: the cost analysis of a window and the optimisation suggestions.

The numbers come from Prometheus (cost_usage: who held which GPU or MIG instance, idle or
busy, aggregated in Prometheus), the price book (pricebook), and the allocation ledger (team,
user, project); cost_model turns them into costs, cost_split into the four-way split per GPU,
and optimization into suggestions. README "Cost: how the numbers are made" explains the method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from analytics.clock import Clock
from analytics.prom import PromClient
from analytics.services.cost import optimization
from analytics.services.cost.model import CostReport, DeviceCost, PodCost, build_report
from analytics.services.cost.split import Split
from analytics.services.cost.usage import Window, read_holdings, read_usage
from analytics.services.kernel.answer_cache import AnswerCache
from analytics.services.kernel.pricebook import PriceBook
from analytics.store import allocations as allocation_store
from analytics.store import versions
from analytics.store.allocations import AllocationRecord
from analytics.store.db import Database


def _money(value: float, digits: int = 2) -> float:
    return round(value, digits)


def _by(values: Mapping[str, float]) -> dict[str, float]:
    return {k: _money(v) for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))}


def split_dict(split: Split, digits: int = 2) -> dict[str, float]:
    return {
        "used": _money(split.used, digits),
        "allocated_idle": _money(split.idle, digits),
        "unallocated": _money(split.unallocated, digits),
        "stranded": _money(split.stranded, digits),
        "total": _money(split.total, digits),
    }


class CostService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        prom: PromClient,
        price_book: PriceBook,
        idle_threshold: float,
        owner_labels: Mapping[str, str],
        answers: AnswerCache[Any] | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._prom = prom
        self.price_book = price_book
        self.idle_threshold = idle_threshold
        self.owner_labels = dict(owner_labels)
        # Analyses and optimisations in this process (analytics.services.kernel.answer_cache).
        self.answers: AnswerCache[Any] = answers or AnswerCache(ttl_s=0, max_entries=0)

    # -- building blocks ---------------------------------------------------------------------

    def report(self, days: int, now: datetime | None = None) -> CostReport:
        """The costs of the last ``days`` days (ending at the last whole step before now)."""
        now = now or self._clock.now()
        window = Window.ending(now, days)
        usage = read_usage(self._prom, window, self.idle_threshold, self.owner_labels)
        book = self.price_book.prices()
        with self._db.read() as conn:
            ledger = allocation_store.list_allocations(
                conn, now, active_only=False, overlapping_since=window.start_time()
            )
        return build_report(usage, book, self.price_book, self.price_book.purchase_costs(), ledger)

    def suggestions(
        self, report: CostReport, now: datetime | None = None
    ) -> list[optimization.Suggestion]:
        now = now or self._clock.now()
        since = now - timedelta(days=optimization.PAST_RELEASE_LOOKBACK_DAYS)
        with self._db.read() as conn:
            ledger: list[AllocationRecord] = allocation_store.list_allocations(
                conn, now, active_only=False, overlapping_since=since
            )
        overdue = [r for r in ledger if r.planned_release_time and r.planned_release_time <= now]
        holdings = read_holdings(self._prom, report.window.end) if overdue else []
        return optimization.suggest(report, overdue, holdings, now)

    def scope_costs(self, days: int) -> dict[str, dict[str, float]]:
        """Attributed cost over the last ``days`` days by team and by namespace (budgets)."""
        report = self.report(days)
        return {"team": report.cost_by("team"), "namespace": report.cost_by("namespace")}

    # -- endpoints ---------------------------------------------------------------------------

    def _answer(self, kind: str, days: int, compute: Callable[[int, datetime], Any]) -> Any:
        """``compute(days, now)``, or the answer to the same question while it is current: the
        same window (it moves every resolution step) on the same ledger, prices and devices.
        Concurrent identical requests share one computation."""
        now = self._clock.now()
        window = Window.ending(now, days)
        with self._db.read() as conn:
            inputs = versions.cost_inputs(conn)
        return self.answers.get((kind, days, window.end, inputs), lambda: compute(days, now))

    def analysis(self, days: int) -> dict[str, Any]:
        result: dict[str, Any] = self._answer("analysis", days, self._analysis)
        return result

    def optimization(self, days: int) -> dict[str, Any]:
        result: dict[str, Any] = self._answer("optimization", days, self._optimization)
        return result

    def _analysis(self, days: int, now: datetime) -> dict[str, Any]:
        report = self.report(days, now)
        suggestions = self.suggestions(report, now)
        window = report.window
        total = report.attributed_cost
        daily = total / window.days
        return {
            "window_days": window.days,
            "window_start": window.start_time(),
            "window_end": window.end_time(),
            "resolution_seconds": window.resolution_s,
            "daily_cost": _money(daily),
            "weekly_cost": _money(daily * 7),
            "monthly_cost": _money(daily * 30),
            "total_cost": _money(total),
            "fleet_cost": _money(report.split.total),
            "cost_by_namespace": _by(report.cost_by("namespace")),
            "cost_by_team": _by(report.cost_by("team")),
            "cost_by_user": _by(report.cost_by("user")),
            "cost_by_project": _by(report.cost_by("project")),
            "cost_by_model": _by(report.cost_by("model")),
            "fleet_cost_by_model": _by(report.fleet_cost_by_model()),
            "split": split_dict(report.split),
            "potential_monthly_savings": optimization.potential_savings(suggestions),
            "suggestion_count": len(suggestions),
            "mig_pricing": report.mig_pricing,
            "idle_utilization_threshold": self.idle_threshold,
            "devices": [_device(d, window) for d in report.devices],
            "pods": [_pod(p) for p in report.pods],
            "unrecognized_gpus": report.unrecognized,
            "analysis_date": now,
        }

    def _optimization(self, days: int, now: datetime) -> dict[str, Any]:
        report = self.report(days, now)
        suggestions = self.suggestions(report, now)
        # Added up in rule order (the order in which rules claim hardware), listed by saving.
        savings = optimization.potential_savings(suggestions)
        suggestions.sort(key=lambda s: (-s.monthly_savings, s.id))
        return {
            "window_days": report.window.days,
            "window_start": report.window.start_time(),
            "window_end": report.window.end_time(),
            "potential_monthly_savings": savings,
            "suggestions": [s.as_dict() for s in suggestions],
            "analysis_date": now,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _device(device: DeviceCost, window: Window) -> dict[str, Any]:
    usage = device.usage
    layout = device.layout
    instances = []
    if layout is not None:
        for mig_uuid, instance in sorted(usage.mig.items(), key=lambda kv: kv[1].profile):
            instances.append(
                {
                    "mig_uuid": mig_uuid,
                    "profile": instance.profile,
                    "share": round(layout.instance_shares.get(mig_uuid, 0.0), 4),
                    "held_hours": round(instance.held_steps * window.step_hours, 2),
                    "idle_hours": round(instance.idle_steps * window.step_hours, 2),
                    "utilization_mean": _rounded(instance.utilization_mean),
                    "utilization_source": instance.utilization_source,
                }
            )
    return {
        "device_id": device.device_id,
        "node": device.node,
        "gpu_uuid": device.uuid,
        "model_id": device.model_id,
        "price_per_hour": round(device.price.price_per_hour, 4),
        "price_basis": device.price.basis,
        "price_source": device.price.source,
        "hours": round(device.hours, 2),
        "held_hours": round(usage.held_steps * window.step_hours, 2),
        "idle_hours": round(usage.idle_steps * window.step_hours, 2),
        "utilization_mean": _rounded(usage.utilization_mean),
        "utilization_source": usage.utilization_source,
        "cost": split_dict(device.split, 4),
        "mig_layout": layout.placements if layout is not None else None,
        "stranded_share": round(layout.stranded_share, 4) if layout is not None else 0.0,
        "mig_instances": instances,
    }


def _pod(pod: PodCost) -> dict[str, Any]:
    return {
        "namespace": pod.namespace,
        "pod": pod.pod,
        "team": pod.owners["team"],
        "user": pod.owners["user"],
        "project": pod.owners["project"],
        "owner_source": pod.owner_source,
        "cost": _money(pod.cost, 4),
        "idle_cost": _money(pod.idle_cost, 4),
        "gpu_hours": round(pod.gpu_hours, 2),
        "units": [
            {
                "device_id": u.device_id,
                "mig_uuid": u.mig_uuid or None,
                "profile": u.profile,
                "model_id": u.model_id,
                "share": round(u.share, 4),
                "price_per_hour": round(u.price_per_hour, 4),
                "held_hours": round(u.held_hours, 2),
                "idle_hours": round(u.idle_hours, 2),
                "cost": _money(u.cost, 4),
            }
            for u in pod.units
        ],
    }
