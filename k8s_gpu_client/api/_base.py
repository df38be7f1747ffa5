"""What every namespace shares: the transport and a helper for request bodies."""

from __future__ import annotations

from typing import Any

from k8s_gpu_client._http import Transport
from k8s_gpu_client.models._base import camel_case


class Namespace:
    def __init__(self, transport: Transport) -> None:
        self._http = transport


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body from snake_case keyword arguments: camelCase keys, None left out."""
    return {camel_case(k): v for k, v in fields.items() if v is not None}
