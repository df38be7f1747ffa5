"""What every namespace shares: the transport, fleet-wide lists in pages, request bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from k8s_gpu_client._http import Transport
from k8s_gpu_client.models._base import ApiModel, camel_case
from k8s_gpu_client.models.paging import Page, PagedModel, Pagination

_M = TypeVar("_M", bound=ApiModel)
_P = TypeVar("_P", bound=PagedModel)


class Namespace:
    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def _list(
        self, model: type[_M], url_path: str, params: Mapping[str, Any] | None = None
    ) -> Page[_M]:
        """GET a fleet-wide list: whole, or the page that ``params``' page and size name."""
        data, pagination = self._http.request_page("GET", url_path, params=params)
        return Page(model.from_api_list(data), _pagination(pagination))

    def _paged_object(
        self, model: type[_P], url_path: str, params: Mapping[str, Any] | None = None
    ) -> _P:
        """GET an object holding a fleet-wide list (its ``pagination`` set when paged)."""
        data, pagination = self._http.request_page("GET", url_path, params=params)
        result = model.from_api(data)
        result.pagination = _pagination(pagination)
        return result


def _pagination(member: Any) -> Pagination | None:
    return Pagination.from_api(member) if isinstance(member, Mapping) else None


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body from snake_case keyword arguments: camelCase keys, None left out."""
    return {camel_case(k): v for k, v in fields.items() if v is not None}
