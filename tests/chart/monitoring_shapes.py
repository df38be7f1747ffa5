"""Shapes of the Prometheus Operator objects the chart renders (monitoring.coreos.com/v1).

kubernetes-validate has no schemas for custom resources, so these are the parts of the
operator's CRD schemas the chart uses, with their required fields and types; a field the chart
adds that is not listed here fails the check, so a typo cannot slip through.
"""

from __future__ import annotations

from typing import Any

_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_DURATION: dict[str, Any] = {"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"}
_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "namespace"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
_SELECTOR: dict[str, Any] = {
    "type": "object",
    "required": ["matchLabels"],
    "additionalProperties": False,
    "properties": {"matchLabels": {**_STRING_MAP, "minProperties": 1}},
}
_NAMESPACE_SELECTOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchNames": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "any": {"type": "boolean"},
    },
}
_SECRET_KEY: dict[str, Any] = {
    "type": "object",
    "required": ["name", "key"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "key": {"type": "string", "minLength": 1},
        "optional": {"type": "boolean"},
    },
}
_SECRET_OR_CONFIG_MAP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "maxProperties": 1,
    "properties": {"secret": _SECRET_KEY, "configMap": _SECRET_KEY},
}
_SAFE_TLS: dict[str, Any] = {
    "ca": _SECRET_OR_CONFIG_MAP,
    "cert": _SECRET_OR_CONFIG_MAP,
    "keySecret": _SECRET_KEY,
    "serverName": {"type": "string"},
    "insecureSkipVerify": {"type": "boolean"},
}
# RelabelConfig actions, as the CRD spells them (it accepts the lower-case forms too).
_ACTIONS = (
    "Replace",
    "Keep",
    "Drop",
    "HashMod",
    "LabelMap",
    "LabelDrop",
    "LabelKeep",
    "Lowercase",
    "Uppercase",
    "KeepEqual",
    "DropEqual",
)
_RELABEL: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sourceLabels": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
            },
            "separator": {"type": "string"},
            "targetLabel": {"type": "string"},
            "regex": {"type": "string"},
            "modulus": {"type": "integer", "minimum": 0},
            "replacement": {"type": "string"},
            "action": {"type": "string", "enum": [*_ACTIONS, *(a.lower() for a in _ACTIONS)]},
        },
    },
}


def _endpoint(tls: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["port"],
        "additionalProperties": False,
        "properties": {
            "port": {"type": "string", "minLength": 1},
            "path": {"type": "string", "pattern": "^/"},
            "interval": _DURATION,
            "scrapeTimeout": _DURATION,
            "honorLabels": {"type": "boolean"},
            "scheme": {"type": "string", "enum": ["http", "https", "HTTP", "HTTPS"]},
            "tlsConfig": {"type": "object", "additionalProperties": False, "properties": tls},
            "basicAuth": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"username": _SECRET_KEY, "password": _SECRET_KEY},
            },
            "relabelings": _RELABEL,
            "metricRelabelings": _RELABEL,
        },
    }


# ServiceMonitor endpoints take a TLSConfig (files too); PodMonitor ones a SafeTLSConfig.
_ENDPOINT = _endpoint(
    {
        **_SAFE_TLS,
        "caFile": {"type": "string"},
        "certFile": {"type": "string"},
        "keyFile": {"type": "string"},
    }
)
_POD_ENDPOINT = _endpoint(_SAFE_TLS)


def _object(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


_RULE: dict[str, Any] = {
    "type": "object",
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "additionalProperties": False,
    "properties": {
        "alert": {"type": "string", "minLength": 1},
        "record": {"type": "string", "minLength": 1},
        "expr": {"type": ["string", "integer"]},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}

OPERATOR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _object(
        "ServiceMonitor",
        {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": _SELECTOR,
                "namespaceSelector": _NAMESPACE_SELECTOR,
                "endpoints": {"type": "array", "items": _ENDPOINT, "minItems": 1},
            },
        },
    ),
    "PodMonitor": _object(
        "PodMonitor",
        {
            "type": "object",
            "required": ["selector", "podMetricsEndpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": _SELECTOR,
                "namespaceSelector": _NAMESPACE_SELECTOR,
                "podMetricsEndpoints": {
                    "type": "array",
                    "items": _POD_ENDPOINT,
                    "minItems": 1,
                },
            },
        },
    ),
    "PrometheusRule": _object(
        "PrometheusRule",
        {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": _DURATION,
                            "limit": {"type": "integer"},
                            "rules": {"type": "array", "items": _RULE},
                        },
                    },
                }
            },
        },
    ),
}
