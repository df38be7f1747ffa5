"""values.schema.json rejects unknown keys and wrong types; values.yaml documents every value."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.chart.chart import CHART, render_raw

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
# Kubernetes and Prometheus Operator objects passed through as they are: every field of theirs is
# optional, so values.yaml need not list one (their schemas are still closed).
PASSTHROUGH = {
    f"#/definitions/{name}"
    for name in ("affinity", "podSecurityContext", "securityContext", "tlsConfig", "safeTlsConfig")
} | {"#/definitions/basicAuth"}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bogus": 1}, "additional properties 'bogus' not allowed"),
        ({"exporter": {"perprocess": True}}, "additional properties 'perprocess' not allowed"),
        (
            {"analytics": {"database": {"postgres": {}}}},
            "additional properties 'postgres' not allowed",
        ),
        ({"monitoring": {"serviceMonitor": {"honorLabels": False}}}, "'honorLabels' not allowed"),
        # The Kubernetes and operator objects passed through are closed too: typos fail.
        ({"exporter": {"affinity": {"nodeAfinity": {}}}}, "'nodeAfinity' not allowed"),
        (
            {"analytics": {"securityContext": {"readOnlyRootFs": True}}},
            "'readOnlyRootFs' not allowed",
        ),
        ({"exporter": {"podSecurityContext": {"fsgroup": 1}}}, "'fsgroup' not allowed"),
        ({"exporter": {"serviceAccount": {"automount": True}}}, "'automount' not allowed"),
        (
            {"monitoring": {"serviceMonitor": {"relabelings": [{"source_labels": ["a"]}]}}},
            "'source_labels' not allowed",
        ),
        (
            {"monitoring": {"podMonitor": {"tlsConfig": {"caFile": "/ca.crt"}}}},
            "'caFile' not allowed",  # a PodMonitor's SafeTLSConfig reads no files
        ),
        ({"dcgmCompat": True}, "'dcgmCompat' not allowed"),
    ],
)
def test_unknown_keys_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        render_raw(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"exporter": {"perProcess": "yes"}}, "/exporter/perProcess': got string, want boolean"),
        ({"analytics": {"replicas": "three"}}, "/analytics/replicas': got string, want integer"),
        ({"analytics": {"workerClass": "gevent"}}, "/analytics/workerClass"),
        ({"analytics": {"database": {"type": "mysql"}}}, "/analytics/database/type"),
        ({"exporter": {"intervals": {"nvmlSeconds": 0}}}, "/exporter/intervals/nvmlSeconds"),
        (
            {"analytics": {"priceOverrides": {"H100_80GB": "4"}}},
            "/analytics/priceOverrides/H100_80GB",
        ),
        (
            {"exporter": {"tolerations": [{"key": "x", "operator": "Sometimes"}]}},
            "/exporter/tolerations/0/operator",
        ),
        (
            {"monitoring": {"prometheusRule": {"alerts": {"GpuOverheating": "off"}}}},
            "/monitoring/prometheusRule/alerts/GpuOverheating': got string, want boolean",
        ),
        (
            {"monitoring": {"prometheusRule": {"files": {"gpu-alerts": 0}}}},
            "/monitoring/prometheusRule/files/gpu-alerts",
        ),
        (
            {"monitoring": {"prometheusRule": {"additionalRuleLabels": {"team-name": "x"}}}},
            "'team-name' does not match pattern",
        ),
        (
            {"monitoring": {"serviceMonitor": {"scheme": "ftp"}}},
            "/monitoring/serviceMonitor/scheme",
        ),
        (
            {"monitoring": {"serviceMonitor": {"relabelings": [{"action": "rename"}]}}},
            "/monitoring/serviceMonitor/relabelings/0/action",
        ),
        (
            {"analytics": {"podDisruptionBudget": {"minAvailable": "half"}}},
            "/analytics/podDisruptionBudget/minAvailable",
        ),
        (
            {
                "exporter": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {"matchExpressions": [{"key": "a", "operator": "Maybe"}]}
                                ]
                            }
                        }
                    }
                }
            },
            "matchExpressions/0/operator",
        ),
        (
            {"exporter": {"securityContext": {"runAsUser": -1}}},
            "/exporter/securityContext/runAsUser",
        ),
        (
            {"monitoring": {"dashboards": {"labelValue": "a b"}}},
            "/monitoring/dashboards/labelValue",
        ),
        ({"global": {"imageRegistry": 5}}, "/global/imageRegistry': got number, want string"),
    ],
)
def test_wrong_types_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        render_raw(values)


def test_globals_of_a_parent_chart_are_accepted() -> None:
    assert render_raw({"global": {"storageClass": "fast", "postgresql": {"auth": {}}}})


def _objects(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if node.get("type") == "object" or "properties" in node:
        yield path, node
    for key, child in node.get("properties", {}).items():
        yield from _objects(child, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _objects(node[key], f"{path}[{key}]")
    for name, definition in node.get("definitions", {}).items():
        yield from _objects(definition, f"#{name}")


def test_every_schema_object_is_closed_or_a_typed_map() -> None:
    found = list(_objects(SCHEMA, "values"))
    assert len(found) > 30
    for path, node in found:
        extra = node.get("additionalProperties")
        if path == "values.global":
            # A parent chart's globals reach this chart too: it types its own and keeps theirs.
            assert extra is True and node["properties"]
            continue
        if "properties" in node:
            assert extra is False, (
                f"{path}: objects with properties must set additionalProperties: false"
            )
        else:
            assert isinstance(extra, dict) and extra, f"{path}: a map needs a typed value schema"


def test_defaults_validate_and_every_schema_key_has_a_default() -> None:
    defaults = yaml.safe_load(VALUES_TEXT)
    jsonschema.Draft7Validator(SCHEMA).validate(defaults)

    def walk(node: dict[str, Any], values: Any, path: str) -> None:
        if node.get("$ref") in PASSTHROUGH:
            return
        node = _resolve(node)
        for key, child in node.get("properties", {}).items():
            assert isinstance(values, dict) and key in values, (
                f"{path}.{key} has no default in values.yaml"
            )
            walk(child, values[key], f"{path}.{key}")

    walk(SCHEMA, defaults, "values")


def _keys_with_comments() -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every mapping key of values.yaml with its path and whether a `# --` comment precedes it."""
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    for line in VALUES_TEXT.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped)
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w.-]*):", line)
        if match and not stripped.startswith("-"):
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
            yield tuple(key for _, key in stack), any(c.startswith("# --") for c in comment)
        if not stripped.startswith("-") or match:
            comment = []


def test_every_value_in_values_yaml_is_commented() -> None:
    """A key is documented by a `# --` comment on it or on an enclosing key; only keys whose
    schema is a fixed set of properties may leave the comment to their children."""
    documented: set[tuple[str, ...]] = set()
    checked = 0
    for path, commented in _keys_with_comments():
        if commented or any(path[:n] in documented for n in range(1, len(path))):
            documented.add(path)
            checked += 1
            continue
        node: dict[str, Any] = SCHEMA
        for key in path:
            node = _resolve(node)["properties"][key]
        assert "properties" in _resolve(node), f"{'.'.join(path)} has no `# --` comment"
    assert checked > 60
