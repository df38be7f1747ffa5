"""Where views find the services and the caller for the current request."""

from __future__ import annotations

from typing import cast

from flask import current_app, g

from analytics.services import Services
from analytics.services.access.apikeys import ANONYMOUS, Principal

SERVICES_KEY = "gpu_analytics.services"


def services() -> Services:
    return cast(Services, current_app.extensions[SERVICES_KEY])


def principal() -> Principal:
    return cast(Principal, g.get("principal", ANONYMOUS))


def actor() -> str | None:
    """The caller as recorded in the ledger: the API key's id and name, or the account."""
    caller = principal()
    return caller.actor if caller.authenticated else None
