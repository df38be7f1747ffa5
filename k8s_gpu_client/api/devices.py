"""``client.devices``: the GPU inventory (/gpu/devices)."""

from __future__ import annotations

from datetime import datetime

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace, body
from k8s_gpu_client.models.devices import (
    Device,
    DeviceHealth,
    DeviceStatistics,
    OverheatingDevice,
)
from k8s_gpu_client.models.paging import Page

PREFIX = "/gpu/devices"


class Devices(Namespace):
    def list(
        self,
        *,
        node_name: str | None = None,
        model_id: str | None = None,
        status: str | None = None,
        page: int | None = None,
        size: int | None = None,
    ) -> Page[Device]:
        """GPUs by node and index, filtered by node, model or status (available, active,
        maintenance, inactive, failed or mig_enabled, in any case); all of them, or with ``page``
        (from 1) and ``size`` one page."""
        params = {"nodeName": node_name, "modelId": model_id, "status": status}
        return self._list(Device, PREFIX, {**params, "page": page, "size": size})

    def get(self, device_id: str) -> Device:
        return Device.from_api(self._http.request("GET", PREFIX + path(device_id)))

    def register(
        self,
        *,
        node_name: str,
        model_id: str,
        device_index: int,
        serial_number: str | None = None,
        pci_address: str | None = None,
        gpu_uuid: str | None = None,
        driver_version: str | None = None,
        firmware_version: str | None = None,
        purchase_cost: float | None = None,
        purchase_date: datetime | None = None,
        warranty_expiry_date: datetime | None = None,
        status: str | None = None,
    ) -> Device:
        """Register a GPU with purchase (USD) and warranty data; needs an operator key."""
        payload = body(
            node_name=node_name,
            model_id=model_id,
            device_index=device_index,
            serial_number=serial_number,
            pci_address=pci_address,
            gpu_uuid=gpu_uuid,
            driver_version=driver_version,
            firmware_version=firmware_version,
            purchase_cost=purchase_cost,
            purchase_date=purchase_date,
            warranty_expiry_date=warranty_expiry_date,
            status=status,
        )
        return Device.from_api(self._http.request("POST", PREFIX, body=payload))

    def update_status(self, device_id: str, status: str) -> Device:
        """ACTIVE, INACTIVE, MAINTENANCE, FAILED or MIG_ENABLED."""
        data = self._http.request(
            "PUT", PREFIX + path(device_id, "status"), params={"status": status}
        )
        return Device.from_api(data)

    def statistics(self) -> DeviceStatistics:
        return DeviceStatistics.from_api(self._http.request("GET", PREFIX + "/statistics"))

    def overheating(
        self, *, page: int | None = None, size: int | None = None
    ) -> Page[OverheatingDevice]:
        """GPUs now above their threshold, hottest first; all, or one page."""
        params = {"page": page, "size": size}
        return self._list(OverheatingDevice, PREFIX + "/overheating", params)

    def health(self, device_id: str) -> DeviceHealth:
        data = self._http.request("GET", PREFIX + path(device_id, "health"))
        return DeviceHealth.from_api(data)
