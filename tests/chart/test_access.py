"""Who the chart's pods run as and what they may do: service accounts, tokens, RBAC granted only
for the features that call the Kubernetes API, and overridable security contexts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart import ALL_SWITCHES, VALUE_SETS, Rendered, containers, render

WORKLOADS = ("DaemonSet", "Deployment", "Job")
ROLE_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# What calls the Kubernetes API: the exporter lists its node's pods (exporter.kubernetesApi);
# the service patches node labels and writes the mig-parted ConfigMap (analytics.migApply) and
# may read the service-account issuer's JWKS with its token (auth.oidc.inClusterJwks).
NO_API: dict[str, Any] = {"exporter": {"kubernetesApi": False}}
IN_CLUSTER_JWKS: dict[str, Any] = {
    "analytics": {
        "auth": {
            "oidc": {
                "issuer": "https://kubernetes.default.svc.cluster.local",
                "jwksUrl": "https://kubernetes.default.svc/openid/v1/jwks",
                "audience": "gpu-analytics",
                "inClusterJwks": True,
            }
        }
    }
}


def _pod(rendered: Rendered, kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = rendered.one(kind)["spec"]["template"]["spec"]
    return spec


def _tokens(values: dict[str, Any]) -> dict[str, bool]:
    rendered = render(values)
    return {
        workload["kind"]: workload["spec"]["template"]["spec"]["automountServiceAccountToken"]
        for kind in WORKLOADS
        for workload in rendered.of_kind(kind)
    }


def test_no_role_is_granted_when_nothing_calls_the_api() -> None:
    rendered = render(NO_API)
    assert not [obj for kind in ROLE_KINDS for obj in rendered.of_kind(kind)]


def test_the_defaults_grant_only_the_exporters_pod_reads() -> None:
    rendered = render({})
    assert rendered.names("ClusterRole") == {"k8s-gpu-management-exporter"}
    (role,) = rendered.of_kind("ClusterRole")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": ["resource.k8s.io"], "resources": ["resourceslices"], "verbs": ["list"]},
    ]
    assert not rendered.of_kind("Role")


def test_rbac_create_false_renders_no_role_even_for_mig_apply() -> None:
    values = {"rbac": {"create": False}, "analytics": {"migApply": {"enabled": True}}}
    rendered = render(values)
    assert not [obj for kind in ROLE_KINDS for obj in rendered.of_kind(kind)]
    # The pods still get the token the feature needs; the roles are the operator's to bind.
    assert _pod(rendered, "Deployment")["automountServiceAccountToken"] is True


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {"DaemonSet": True, "Deployment": False}),
        (NO_API, {"DaemonSet": False, "Deployment": False}),
        ({"analytics": {"migApply": {"enabled": True}}}, {"DaemonSet": True, "Deployment": True}),
        ({**NO_API, **IN_CLUSTER_JWKS}, {"DaemonSet": False, "Deployment": True}),
        (VALUE_SETS["postgresql-3"], {"DaemonSet": True, "Deployment": False, "Job": False}),
    ],
    ids=["default", "no-api", "mig-apply", "in-cluster-jwks", "migration-job"],
)
def test_a_token_is_mounted_only_where_the_pod_calls_the_api(
    values: dict[str, Any], expected: dict[str, bool]
) -> None:
    assert _tokens(values) == expected


def test_automount_can_be_forced_for_a_sidecar() -> None:
    values = {
        "exporter": {
            "kubernetesApi": False,
            "serviceAccount": {"automountServiceAccountToken": True},
        },
        "analytics": {"serviceAccount": {"automountServiceAccountToken": True}},
    }
    assert _tokens(values) == {"DaemonSet": True, "Deployment": True}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_service_accounts_never_automount_pods_opt_in(value_set: str) -> None:
    for account in render(VALUE_SETS[value_set]).of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_bindings_name_the_accounts_the_pods_run_as(value_set: str) -> None:
    rendered = render(VALUE_SETS[value_set])
    runs_as = {
        _pod(rendered, kind)["serviceAccountName"]
        for kind in ("DaemonSet", "Deployment")
        if rendered.of_kind(kind)
    }
    accounts = rendered.names("ServiceAccount")
    assert runs_as <= accounts
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in rendered.of_kind(kind):
            for subject in binding["subjects"]:
                assert subject["name"] in runs_as
                assert subject["namespace"] == "gpu-management"


def test_service_account_names_and_annotations() -> None:
    rendered = render(ALL_SWITCHES)
    assert rendered.names("ServiceAccount") == {"gpu-exporter", "gpu-analytics"}
    assert _pod(rendered, "DaemonSet")["serviceAccountName"] == "gpu-exporter"
    assert _pod(rendered, "Deployment")["serviceAccountName"] == "gpu-analytics"
    analytics = rendered.one("ServiceAccount", "gpu-analytics")
    assert analytics["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/gpu-analytics"
    }
    binding = rendered.one("RoleBinding")
    assert binding["subjects"][0]["name"] == "gpu-analytics"


def test_existing_service_accounts_are_used_and_not_created() -> None:
    values = {
        "exporter": {"serviceAccount": {"create": False, "name": "node-agents"}},
        "analytics": {"serviceAccount": {"create": False}},
    }
    rendered = render(values)
    assert not rendered.of_kind("ServiceAccount")
    assert _pod(rendered, "DaemonSet")["serviceAccountName"] == "node-agents"
    assert _pod(rendered, "Deployment")["serviceAccountName"] == "default"
    (binding,) = rendered.of_kind("ClusterRoleBinding")
    assert binding["subjects"][0]["name"] == "node-agents"


def test_exporter_pod_security_context_is_merged_over_the_charts() -> None:
    merged = _pod(
        render({"exporter": {"podSecurityContext": {"supplementalGroups": [44]}}}), "DaemonSet"
    )
    assert merged["securityContext"] == {
        "runAsUser": 0,
        "runAsGroup": 0,
        "runAsNonRoot": False,
        "seccompProfile": {"type": "RuntimeDefault"},
        "supplementalGroups": [44],
    }
    values = {
        "exporter": {
            "podResources": {"enabled": False},
            "podSecurityContext": {"runAsUser": 2000, "seccompProfile": {"type": "Unconfined"}},
        }
    }
    overridden = _pod(render(values), "DaemonSet")["securityContext"]
    assert overridden["runAsUser"] == 2000 and overridden["runAsGroup"] == 10001
    assert overridden["runAsNonRoot"] is True
    assert overridden["seccompProfile"] == {"type": "Unconfined"}


def test_security_contexts_merge_with_the_defaults_and_null_drops_a_key() -> None:
    """Helm merges a map of the values with the default map; null deletes a default key."""
    context = {"privileged": False, "readOnlyRootFilesystem": None}
    values: dict[str, Any] = {
        "exporter": {"securityContext": context},
        "analytics": {
            "securityContext": context,
            "podSecurityContext": {"runAsUser": 20001, "fsGroup": None},
            "database": {"type": "postgresql", "postgresql": {"existingSecret": "db"}},
        },
    }
    rendered = render(values)
    for kind in WORKLOADS:
        (container,) = containers(rendered.one(kind))
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
        }, kind
    # The migration Job runs as the service does.
    for kind in ("Deployment", "Job"):
        assert _pod(rendered, kind)["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 20001,
            "runAsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_container_drops_all_capabilities_by_default_or_as_configured(value_set: str) -> None:
    rendered = render(VALUE_SETS[value_set])
    for kind in WORKLOADS:
        for workload in rendered.of_kind(kind):
            for container in containers(workload):
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"] == {"drop": ["ALL"]}
