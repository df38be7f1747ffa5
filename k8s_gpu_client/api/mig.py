"""``client.mig``: MIG layouts (/gpu/mig)."""

from __future__ import annotations

from collections.abc import Sequence

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace
from k8s_gpu_client.models.mig import MigInstance, MigLayout, MigStatistics
from k8s_gpu_client.models.paging import Page

PREFIX = "/gpu/mig"


class Mig(Namespace):
    def get(self, device_id: str) -> MigLayout:
        """The GPU's layout: desired and observed instances, drift, the mig.config to apply."""
        data = self._http.request("GET", PREFIX + path("devices", device_id))
        return MigLayout.from_api(data)

    def create(self, device_id: str, profile_ids: Sequence[str]) -> MigLayout:
        """Add instances (e.g. ``["1g.10gb", "2g.20gb"]``), validated against the model's
        geometry; they are PENDING until the exporter reports them."""
        data = self._http.request(
            "POST", PREFIX + path("devices", device_id), body={"profileIds": list(profile_ids)}
        )
        return MigLayout.from_api(data)

    def delete(self, device_id: str) -> MigLayout:
        """Remove every instance (refused with GPU_NOT_AVAILABLE while one is allocated)."""
        data = self._http.request("DELETE", PREFIX + path("devices", device_id))
        return MigLayout.from_api(data)

    def available(self, *, page: int | None = None, size: int | None = None) -> Page[MigInstance]:
        """Free MIG instances by node, GPU and instance id; all, or one page."""
        params = {"page": page, "size": size}
        return self._list(MigInstance, PREFIX + "/available", params)

    def statistics(self) -> MigStatistics:
        return MigStatistics.from_api(self._http.request("GET", PREFIX + "/statistics"))
