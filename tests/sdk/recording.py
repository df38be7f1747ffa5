"""Which API operations a client really called (a requests response hook, no patching), and
whether its typed results mirror the API."""

from __future__ import annotations

import dataclasses
import inspect
import re
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import requests

from k8s_gpu_client.models._base import ApiModel, camel_case

API_PREFIX = "/k8s-monitor/api/v1"


class Recorder:
    """A ``requests.Session`` whose response hook records (method, path, status)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        method = response.request.method or ""
        self.calls.append((method, urlsplit(response.url).path, response.status_code))

    def operations(self, templates: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The OpenAPI operations (method, path template) the recorded calls match."""
        found: set[tuple[str, str]] = set()
        for method, path, _status in self.calls:
            matches = [
                (m, t) for m, t in templates if m == method and template_regex(t).fullmatch(path)
            ]
            # A literal segment beats a parameter (/gpu/devices/statistics vs /{device_id}).
            if matches:
                found.add(min(matches, key=lambda op: op[1].count("{")))
        return found


def template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
    return re.compile(pattern)


def openapi_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, full path template): the document's paths are relative to its server URL."""
    server = document["servers"][0]["url"]
    assert server == API_PREFIX, server
    return {
        (method.upper(), server + path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    }


def assert_mirrors(result: Any) -> None:
    """A typed result whose every field the SDK knows, recursively."""
    if isinstance(result, list):
        for item in result:
            assert_mirrors(item)
        return
    assert isinstance(result, ApiModel), result
    assert result.extra == {}, (type(result).__name__, result.extra)
    for item in dataclasses.fields(result):
        value = getattr(result, item.name)
        if isinstance(value, ApiModel):
            assert_mirrors(value)
        elif isinstance(value, list):
            assert_mirrors([v for v in value if isinstance(v, ApiModel)])
        elif isinstance(value, dict):
            for inner in value.values():
                if isinstance(inner, ApiModel):
                    assert_mirrors(inner)


def missing_operations(
    recorder: Recorder, document: dict[str, Any], prefixes: tuple[str, ...]
) -> set[tuple[str, str]]:
    """Operations under these path prefixes (after the API base) that no call reached."""
    templates = {
        (m, p)
        for m, p in openapi_operations(document)
        if p.removeprefix(API_PREFIX).startswith(prefixes)
    }
    return templates - recorder.operations(templates)


# SDK class names that differ from the OpenAPI schema's (names the SDK exports flat).
SCHEMA_NAMES = {
    "KubernetesRequest": "Kubernetes",
    "CostOptimization": "Optimization",
    "CostSuggestion": "Suggestion",
    "CostSplit": "Split",
    "WebhookDelivery": "Delivery",
    "DeliveryAttempt": "Attempt",
}


def mirrored_models(module: ModuleType, document: dict[str, Any]) -> int:
    """Assert each dataclass of ``module`` has exactly its schema's fields; how many."""
    schemas = document["components"]["schemas"]
    checked = 0
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if not issubclass(cls, ApiModel) or cls.__module__ != module.__name__:
            continue
        schema = schemas[SCHEMA_NAMES.get(name, name)]
        keys = {
            f.metadata.get("api", camel_case(f.name))
            for f in dataclasses.fields(cls)
            # extra, and what the envelope carries beside data (pagination), are no API fields.
            if f.name != "extra" and not f.metadata.get("envelope")
        }
        assert keys == set(schema["properties"]), (name, keys ^ set(schema["properties"]))
        checked += 1
    return checked
