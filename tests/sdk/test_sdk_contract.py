"""One contract, three SDKs (issue 19): every operation of the served OpenAPI document has a
method in the Python, Go and Java SDKs, and every field of its 2xx answer's data (nested objects
included) has a place in the model that method returns.

The document is the one the service serves (the in-process app's /k8s-monitor/api-docs). Each
SDK maps operationId -> method explicitly (a new operation fails here until each SDK has a
method for it); the methods and the models they return are read from the SDKs themselves
(tests/sdk/sdk_sources.py): the Python client by introspection, the Go and Java sources by
parsing, so this runs without Go or a JDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics import create_app
from analytics.settings import Secret, Settings
from tests.analytics.conftest import ADMIN_KEY, close_app
from tests.sdk.sdk_sources import Sdk, go_sdk, java_sdk, python_sdk, snake_to_camel

METHODS = ("get", "post", "put", "patch", "delete")

# operationId -> the Python SDK's method (``area.method`` of GpuManagementClient).
PYTHON_METHODS = {
    "listDevices": "devices.list",
    "registerDevice": "devices.register",
    "getDeviceStatistics": "devices.statistics",
    "listOverheatingDevices": "devices.overheating",
    "getDevice": "devices.get",
    "updateDeviceStatus": "devices.update_status",
    "getDeviceHealth": "devices.health",
    "getMigLayout": "mig.get",
    "createMigInstances": "mig.create",
    "deleteMigInstances": "mig.delete",
    "listAvailableMigInstances": "mig.available",
    "getMigStatistics": "mig.statistics",
    "listAllocations": "allocations.list",
    "createAllocation": "allocations.create",
    "getAllocationCostStatistics": "allocations.cost_statistics",
    "listExpiringAllocations": "allocations.expiring",
    "getAllocationReconciliation": "allocations.reconciliation",
    "getAllocation": "allocations.get",
    "releaseAllocation": "allocations.release",
    "createAllocationsBatch": "batch.allocations",
    "collectMetricsBatch": "batch.collect_metrics",
    "listModelServingPods": "resources.pods",
    "listPods": "resources.all_pods",
    "listTopPods": "resources.top_pods",
    "getPod": "resources.pod",
    "listNodes": "resources.nodes",
    "getNode": "resources.node",
    "getResourceUsage": "resources.usage",
    "listNamespaceUsage": "resources.namespaces",
    "getResourceStatistics": "resources.statistics",
    "getClusterHealth": "resources.health",
    "listResourceAlerts": "resources.alerts",
    "getMetricsStatus": "resources.metrics_status",
    "getResourceForecast": "resources.forecast",
    "getGpuUsageStatistics": "metrics.usage_statistics",
    "listOverheatingAlerts": "metrics.overheating_alerts",
    "collectMetrics": "metrics.collect",
    "getCollectionStatus": "metrics.collection_status",
    "getGpuOverview": "cluster.overview",
    "getGpuHealth": "cluster.health",
    "getGpuForecast": "cluster.forecast",
    "listWebhooks": "webhooks.list",
    "createWebhook": "webhooks.create",
    "getWebhook": "webhooks.get",
    "updateWebhook": "webhooks.update",
    "deleteWebhook": "webhooks.delete",
    "testWebhook": "webhooks.test",
    "listWebhookDeliveries": "webhooks.deliveries",
    "receiveAlertmanagerNotification": "webhooks.receive_alertmanager",
    "getCostAnalysis": "cost.analyze",
    "getCostOptimization": "cost.optimization",
    "listPrices": "cost.prices",
    "getPrice": "cost.price",
    "setPrice": "cost.set_price",
    "deletePrice": "cost.reset_price",
    "listBudgets": "cost.budgets",
    "createBudget": "cost.create_budget",
    "checkBudgets": "cost.check_budgets",
    "getBudget": "cost.budget",
    "updateBudget": "cost.update_budget",
    "deleteBudget": "cost.delete_budget",
    "issueToken": "issue_token",
    "listUsers": "users.list",
    "createUser": "users.create",
    "getUser": "users.get",
    "updateUser": "users.update",
    "setUserPassword": "users.set_password",
    "listApiKeys": "api_keys.list",
    "createApiKey": "api_keys.create",
    "revokeApiKey": "api_keys.revoke",
}

# operationId -> the Go SDK's method (``Service.Method`` of a Client field, or a Client method).
GO_METHODS = {
    "listDevices": "Devices.List",
    "registerDevice": "Devices.Register",
    "getDeviceStatistics": "Devices.Statistics",
    "listOverheatingDevices": "Devices.Overheating",
    "getDevice": "Devices.Get",
    "updateDeviceStatus": "Devices.UpdateStatus",
    "getDeviceHealth": "Devices.Health",
    "getMigLayout": "MIG.Get",
    "createMigInstances": "MIG.Create",
    "deleteMigInstances": "MIG.Delete",
    "listAvailableMigInstances": "MIG.Available",
    "getMigStatistics": "MIG.Statistics",
    "listAllocations": "Allocations.List",
    "createAllocation": "Allocations.Create",
    "getAllocationCostStatistics": "Allocations.CostStatistics",
    "listExpiringAllocations": "Allocations.Expiring",
    "getAllocationReconciliation": "Allocations.Reconciliation",
    "getAllocation": "Allocations.Get",
    "releaseAllocation": "Allocations.Release",
    "createAllocationsBatch": "Batch.Allocations",
    "collectMetricsBatch": "Batch.CollectMetrics",
    "listModelServingPods": "Resources.Pods",
    "listPods": "Resources.AllPods",
    "listTopPods": "Resources.TopPods",
    "getPod": "Resources.Pod",
    "listNodes": "Resources.Nodes",
    "getNode": "Resources.Node",
    "getResourceUsage": "Resources.Usage",
    "listNamespaceUsage": "Resources.Namespaces",
    "getResourceStatistics": "Resources.Statistics",
    "getClusterHealth": "Resources.Health",
    "listResourceAlerts": "Resources.Alerts",
    "getMetricsStatus": "Resources.MetricsStatus",
    "getResourceForecast": "Resources.Forecast",
    "getGpuUsageStatistics": "Metrics.UsageStatistics",
    "listOverheatingAlerts": "Metrics.OverheatingAlerts",
    "collectMetrics": "Metrics.Collect",
    "getCollectionStatus": "Metrics.CollectionStatus",
    "getGpuOverview": "Cluster.Overview",
    "getGpuHealth": "Cluster.Health",
    "getGpuForecast": "Cluster.Forecast",
    "listWebhooks": "Webhooks.List",
    "createWebhook": "Webhooks.Create",
    "getWebhook": "Webhooks.Get",
    "updateWebhook": "Webhooks.Update",
    "deleteWebhook": "Webhooks.Delete",
    "testWebhook": "Webhooks.Test",
    "listWebhookDeliveries": "Webhooks.Deliveries",
    "receiveAlertmanagerNotification": "Webhooks.ReceiveAlertmanager",
    "getCostAnalysis": "Cost.Analyze",
    "getCostOptimization": "Cost.Optimization",
    "listPrices": "Cost.Prices",
    "getPrice": "Cost.Price",
    "setPrice": "Cost.SetPrice",
    "deletePrice": "Cost.ResetPrice",
    "listBudgets": "Cost.Budgets",
    "createBudget": "Cost.CreateBudget",
    "checkBudgets": "Cost.CheckBudgets",
    "getBudget": "Cost.Budget",
    "updateBudget": "Cost.UpdateBudget",
    "deleteBudget": "Cost.DeleteBudget",
    "issueToken": "IssueToken",
    "listUsers": "Users.List",
    "createUser": "Users.Create",
    "getUser": "Users.Get",
    "updateUser": "Users.Update",
    "setUserPassword": "Users.SetPassword",
    "listApiKeys": "APIKeys.List",
    "createApiKey": "APIKeys.Create",
    "revokeApiKey": "APIKeys.Revoke",
}

# The Java SDK has the Python SDK's areas and methods, spelt in camelCase
# (api_keys.set_password -> apiKeys().setPassword).
JAVA_METHODS = {operation: snake_to_camel(method) for operation, method in PYTHON_METHODS.items()}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The OpenAPI document the service serves."""
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("contract-app")),
        admin_api_key=Secret(ADMIN_KEY),
        rate_limit_storage="file",
        sync_interval_seconds=0,
        forecast_warmup=False,
    )
    app = create_app(settings)
    try:
        response = app.test_client().get("/k8s-monitor/api-docs")
        assert response.status_code == 200
        served: dict[str, Any] = response.get_json()
        yield served
    finally:
        close_app(app)


@pytest.fixture(scope="module", params=["Python", "Go", "Java"])
def sdk(request: pytest.FixtureRequest) -> tuple[Sdk, dict[str, str]]:
    """An SDK as read from its code, with its operationId -> method table."""
    readers = {
        "Python": (python_sdk, PYTHON_METHODS),
        "Go": (go_sdk, GO_METHODS),
        "Java": (java_sdk, JAVA_METHODS),
    }
    read, table = readers[request.param]
    return read(), table


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """operationId -> operation."""
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }


def schema_name(schema: dict[str, Any]) -> str | None:
    """The component a schema names, through $ref, allOf, array items and map values."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for inner in [
        *schema.get("allOf", []),
        schema.get("items"),
        schema.get("additionalProperties"),
    ]:
        if isinstance(inner, dict):
            found = schema_name(inner)
            if found:
                return found
    return None


def data_schema(document: dict[str, Any], operation: dict[str, Any]) -> str | None:
    """The component of the ``data`` member of the operation's 2xx envelope."""
    schemas = document["components"]["schemas"]
    (success,) = [r for status, r in operation["responses"].items() if status.startswith("2")]
    envelope = schemas[schema_name(success["content"]["application/json"]["schema"]) or ""]
    return schema_name(envelope["properties"]["data"])


def model_mismatches(
    document: dict[str, Any], sdk: Sdk, schema: str, model: str, seen: set[tuple[str, str]]
) -> list[str]:
    """How ``model`` of ``sdk`` differs from component ``schema``, nested objects included."""
    if (schema, model) in seen:
        return []
    seen.add((schema, model))
    properties: dict[str, Any] = document["components"]["schemas"][schema].get("properties", {})
    fields = sdk.models[model]
    problems = []
    if missing := sorted(set(properties) - set(fields)):
        problems.append(f"{model} lacks {schema}'s {missing}")
    if unknown := sorted(set(fields) - set(properties)):
        problems.append(f"{model} has {unknown}, which {schema} does not")
    for key, prop in properties.items():
        nested = schema_name(prop)
        if key not in fields or nested is None:
            continue
        if not document["components"]["schemas"][nested].get("properties"):
            continue
        nested_model = fields[key]
        if nested_model is None:
            problems.append(f"{model}.{key} holds no model for {nested}")
        else:
            problems += model_mismatches(document, sdk, nested, nested_model, seen)
    return problems


def test_every_operation_has_a_method_in_each_sdk(
    document: dict[str, Any], sdk: tuple[Sdk, dict[str, str]]
) -> None:
    read, table = sdk
    served = set(operations(document))
    assert served - set(table) == set(), f"{read.name}: operations without an entry"
    assert set(table) - served == set(), f"{read.name}: entries for operations not served"
    missing = {op: method for op, method in table.items() if method not in read.methods}
    assert missing == {}, f"{read.name}: methods that do not exist"


def test_every_answer_field_has_a_place_in_the_returned_model(
    document: dict[str, Any], sdk: tuple[Sdk, dict[str, str]]
) -> None:
    read, table = sdk
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for operation_id, operation in sorted(operations(document).items()):
        schema = data_schema(document, operation)
        returned = read.methods.get(table.get(operation_id, ""))
        if schema is None:
            continue
        if returned is None:
            problems.append(f"{operation_id}: {table.get(operation_id)} returns no model")
            continue
        problems += [
            f"{operation_id}: {p}" for p in model_mismatches(document, read, schema, returned, seen)
        ]
    assert problems == [], f"{read.name}:\n" + "\n".join(problems)


def test_the_check_sees_a_missing_operation_and_a_missing_field(
    document: dict[str, Any],
) -> None:
    """The checks above fail on what they are for: an operation the table lacks, a method that
    is not there, a model without a field of the answer."""
    python = python_sdk()
    assert python.methods["devices.list"] == "Device"
    table = {k: v for k, v in PYTHON_METHODS.items() if k != "revokeApiKey"}
    assert set(operations(document)) - set(table) == {"revokeApiKey"}
    assert "api_keys.remove" not in python.methods
    python.models["Device"].pop("metricsAvailable")
    assert model_mismatches(document, python, "Device", "Device", set()) == [
        "Device lacks Device's ['metricsAvailable']"
    ]
    python.models["MigLayout"]["instances"] = None
    assert "MigLayout.instances holds no model for MigInstance" in model_mismatches(
        document, python, "MigLayout", "MigLayout", set()
    )
