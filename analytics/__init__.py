"""The GPU analytics service: REST API over the GPU inventory, MIG layouts and allocations.

``create_app`` is imported lazily so that ``gpu-analytics serve`` can configure
prometheus_client's multiprocess mode before anything imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Any = None, **kwargs: Any) -> Flask:
    """Build the Flask app; see analytics.app.create_app."""
    from analytics.app import create_app as factory

    return factory(config, **kwargs)
