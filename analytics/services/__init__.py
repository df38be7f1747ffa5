"""Use cases. Services take plain values, raise analytics.errors, and know nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.clock import Clock
from analytics.services.access.apikeys import ApiKeyService
from analytics.services.access.authenticator import Authenticator
from analytics.services.access.ratelimits import RateLimiter
from analytics.services.access.users import UserService
from analytics.services.cluster.health import ClusterHealthService
from analytics.services.cluster.service import ClusterService
from analytics.services.cost.budgets import BudgetService
from analytics.services.cost.service import CostService
from analytics.services.events.alertmanager import AlertReceiver
from analytics.services.events.recorder import EventRecorder
from analytics.services.events.webhooks import WebhookService
from analytics.services.forecast.service import ForecastService
from analytics.services.gpu.metrics import GpuMetricsService
from analytics.services.inventory.devices import DeviceService
from analytics.services.inventory.mig import MigService
from analytics.services.inventory.sync import InventorySync
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.live_views import LiveViews
from analytics.services.kernel.partial import MetricsGate
from analytics.services.kernel.pricebook import PriceBook
from analytics.services.ledger.allocations import AllocationService
from analytics.services.ledger.reconciliation import ReconciliationService


@dataclass(frozen=True)
class Services:
    clock: Clock
    catalogue: Catalogue
    devices: DeviceService
    mig: MigService
    allocations: AllocationService
    api_keys: ApiKeyService
    # Accounts, and who is calling from any credential (docs/auth.md).
    users: UserService
    auth: Authenticator
    rate_limiter: RateLimiter
    gpu_metrics: GpuMetricsService
    inventory_sync: InventorySync
    reconciliation: ReconciliationService
    # Events and their webhook outbox (docs/webhooks.md).
    events: EventRecorder
    webhooks: WebhookService
    alert_receiver: AlertReceiver
    # Forecasts of GPU demand and cluster resources, with their per-process cache.
    forecast: ForecastService
    # Cost: price book, analysis and optimisation, budgets (README "Cost: how the numbers
    # are made").
    price_book: PriceBook
    cost: CostService
    budgets: BudgetService
    # Fleet-wide views from Prometheus, kept per worker for live_view_seconds.
    live_views: LiveViews
    # Cluster resources (/resources) from Prometheus.
    cluster: ClusterService
    cluster_health: ClusterHealthService
    # The metric parts of partial answers, for every mixed endpoint of this app (worker).
    metrics_gate: MetricsGate
