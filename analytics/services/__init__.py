"""Use cases. Services take plain values, raise analytics.errors, and know nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.clock import Clock
from analytics.services.allocations import AllocationService
from analytics.services.apikeys import ApiKeyService
from analytics.services.catalog import Catalogue
from analytics.services.devices import DeviceService
from analytics.services.mig import MigService
from analytics.services.ratelimits import RateLimiter


@dataclass(frozen=True)
class Services:
    clock: Clock
    catalogue: Catalogue
    devices: DeviceService
    mig: MigService
    allocations: AllocationService
    api_keys: ApiKeyService
    rate_limiter: RateLimiter
