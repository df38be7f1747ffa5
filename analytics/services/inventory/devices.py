"""GPU inventory use cases: register, list, get, change status, statistics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.clock import Clock
from analytics.errors import (
    InvalidParameter,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationFailed,
)
from analytics.paging import Page, PageRequest
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.ids import device_id_for
from analytics.services.kernel.live import LiveDeviceMetrics, LiveMetricsProvider
from analytics.services.kernel.pricebook import PriceBook
from analytics.store import devices as device_store
from analytics.store.db import Database
from analytics.store.devices import DeviceFilter, DeviceRecord, DuplicateDevice

DEVICE_STATUSES = ("ACTIVE", "INACTIVE", "MAINTENANCE", "FAILED", "MIG_ENABLED")
# The seed's lower-case list filters, beside the exact statuses above.
STATUS_FILTERS = ("available", "active", "maintenance")
_FILTER_STATUSES: dict[str, tuple[str, ...]] = {
    "available": ("ACTIVE",),
    "active": ("ACTIVE", "MIG_ENABLED"),
    "maintenance": ("MAINTENANCE",),
    "inactive": ("INACTIVE",),
    "failed": ("FAILED",),
    "mig_enabled": ("MIG_ENABLED",),
}


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    node_name: str
    model_id: str
    model_name: str
    device_index: int
    device_status: str
    current_temp_c: float | None
    current_power_w: float | None
    current_utilization: float | None
    memory_gb: float
    architecture: str
    mig_support: bool
    allocated: bool
    mig_instance_count: int
    serial_number: str | None
    pci_address: str | None
    gpu_uuid: str | None
    driver_version: str | None
    firmware_version: str | None
    purchase_cost: float | None
    purchase_date: datetime | None
    warranty_expiry_date: datetime | None
    price_per_hour: float | None
    source: str
    registered_at: datetime
    updated_at: datetime
    presence: str | None = None
    last_seen_at: datetime | None = None
    product_name: str | None = None
    # Whether the live fields come from Prometheus; when not, why (analytics.services.kernel.partial).
    metrics_available: bool = True
    metrics_unavailable_reason: str | None = None


@dataclass(frozen=True)
class DeviceRegistration:
    node_name: str
    model_id: str
    device_index: int
    serial_number: str | None = None
    pci_address: str | None = None
    gpu_uuid: str | None = None
    driver_version: str | None = None
    firmware_version: str | None = None
    purchase_cost: float | None = None
    purchase_date: datetime | None = None
    warranty_expiry_date: datetime | None = None
    status: str = "ACTIVE"


class DeviceService:
    def __init__(
        self,
        database: Database,
        catalogue: Catalogue,
        clock: Clock,
        live_metrics: LiveMetricsProvider,
        prices: PriceBook,
    ) -> None:
        self._db = database
        self._catalogue = catalogue
        self._clock = clock
        self._live = live_metrics
        self._prices = prices

    def register(self, registration: DeviceRegistration) -> DeviceView:
        self._catalogue.model(registration.model_id)
        if registration.status not in DEVICE_STATUSES:
            # The status comes in the registration's body.
            raise ValidationFailed(
                f"Unknown device status {registration.status!r}.",
                {"status": [f"Must be one of: {', '.join(DEVICE_STATUSES)}."]},
            )
        device_id = device_id_for(registration.node_name, registration.device_index)
        now = self._clock.now()
        values = {
            **registration.__dict__,
            "device_id": device_id,
            "source": "api",
            "registered_at": now,
            "updated_at": now,
        }

        def run(conn: Any) -> DeviceRecord:
            clash = device_store.find_conflict(conn, device_id, registration.gpu_uuid)
            if clash is not None:
                raise _duplicate(device_id, clash, registration.gpu_uuid)
            try:
                device_store.insert_device(conn, values)
            except DuplicateDevice as exc:
                raise _duplicate(device_id, device_id, registration.gpu_uuid) from exc
            record = device_store.get_device(conn, device_id, now)
            assert record is not None
            return record

        return self._views([self._db.write(run)])[0]

    def list_devices(
        self,
        *,
        node_name: str | None = None,
        model_id: str | None = None,
        status: str | None = None,
        page: PageRequest | None = None,
    ) -> list[DeviceView] | Page[list[DeviceView]]:
        """GPUs by node name and index; with ``page`` that page alone (live metrics are read
        for its GPUs only) and the count of all that match."""
        if model_id is not None:
            self._catalogue.model(model_id)
        shown = DeviceFilter(
            node_name=node_name,
            model_id=model_id,
            statuses=None if status is None else _FILTER_STATUSES.get(status, (status,)),
            free_only=status == "available",
        )
        now = self._clock.now()
        with self._db.read() as conn:
            if page is None:
                records = device_store.list_devices(conn, now, shown)
                total = len(records)
            else:
                records, total = device_store.page_devices(conn, now, page, shown)
        views = self._views(records)
        return views if page is None else Page(views, page, total)

    def get(self, device_id: str) -> DeviceView:
        with self._db.read() as conn:
            record = device_store.get_device(conn, device_id, self._clock.now())
        if record is None:
            raise _not_found(device_id)
        return self._views([record])[0]

    def set_status(self, device_id: str, status: str) -> DeviceView:
        if status not in DEVICE_STATUSES:
            raise InvalidParameter(
                f"Unknown device status {status!r}.", {"allowed": list(DEVICE_STATUSES)}
            )
        now = self._clock.now()

        def run(conn: Any) -> DeviceRecord:
            if device_store.lock_device(conn, device_id, now) is None:
                raise _not_found(device_id)
            device_store.set_status(conn, device_id, status, now)
            record = device_store.get_device(conn, device_id, now)
            assert record is not None
            return record

        return self._views([self._db.write(run)])[0]

    def statistics(self) -> dict[str, Any]:
        with self._db.read() as conn:
            records = device_store.list_devices(conn, self._clock.now())
        usable = [r for r in records if r.status in ("ACTIVE", "MIG_ENABLED")]
        allocated = [r for r in records if r.allocated]
        return {
            "total_devices": len(records),
            "devices_by_model": dict(Counter(r.model_id for r in records)),
            "devices_by_node": dict(Counter(r.node_name for r in records)),
            "devices_by_status": dict(Counter(r.status for r in records)),
            "allocated_devices": len(allocated),
            "available_devices": sum(
                1 for r in records if r.status == "ACTIVE" and not r.allocated
            ),
            "mig_enabled_devices": sum(1 for r in records if r.mig_instance_count > 0),
            "allocation_rate": round(100.0 * len(allocated) / len(usable), 2) if usable else 0.0,
        }

    def _views(self, records: Sequence[DeviceRecord]) -> list[DeviceView]:
        readings = self._live.device_metrics(records)
        live = readings.value or {}
        prices = self._prices.hourly_prices()
        views = []
        for record in records:
            model = self._catalogue.model(record.model_id)
            metrics = live.get(record.device_id, LiveDeviceMetrics())
            views.append(
                DeviceView(
                    device_id=record.device_id,
                    node_name=record.node_name,
                    model_id=record.model_id,
                    model_name=model.model_name,
                    device_index=record.device_index,
                    device_status=record.status,
                    current_temp_c=metrics.temperature_c,
                    current_power_w=metrics.power_w,
                    current_utilization=metrics.utilization_percent,
                    memory_gb=model.memory_gb,
                    architecture=model.architecture,
                    mig_support=model.mig_support,
                    allocated=record.allocated,
                    mig_instance_count=record.mig_instance_count,
                    serial_number=record.serial_number,
                    pci_address=record.pci_address,
                    gpu_uuid=record.gpu_uuid,
                    driver_version=record.driver_version,
                    firmware_version=record.firmware_version,
                    purchase_cost=record.purchase_cost,
                    purchase_date=record.purchase_date,
                    warranty_expiry_date=record.warranty_expiry_date,
                    price_per_hour=prices.get(record.model_id),
                    source=record.source,
                    registered_at=record.registered_at,
                    updated_at=record.updated_at,
                    presence=record.presence,
                    last_seen_at=record.last_seen_at,
                    product_name=record.product_name,
                    metrics_available=readings.available,
                    metrics_unavailable_reason=readings.reason,
                )
            )
        return views


def _not_found(device_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"GPU device {device_id} not found.", {"deviceId": device_id})


def _duplicate(device_id: str, clash: str, gpu_uuid: str | None) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(
        f"GPU device {device_id} is already registered"
        + (f" (GPU UUID {gpu_uuid} belongs to {clash})" if clash != device_id else "")
        + ".",
        {"deviceId": device_id, "existingDeviceId": clash},
    )
