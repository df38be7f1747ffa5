"""What each SDK offers, read from its own code: the Python SDK by introspection, the Go and Java
SDKs by parsing their sources (no build needed). The contract tests compare this with the served
OpenAPI document.

For every SDK: ``methods`` (the callable names of the client, ``area.method``) with the model each
returns, and ``models`` (model name -> {JSON key: the model its value holds, or None}).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import typing
from dataclasses import dataclass, field
from typing import Any

import k8s_gpu_client.models
from k8s_gpu_client import GpuManagementClient
from k8s_gpu_client.api._base import Namespace
from k8s_gpu_client.models._base import ApiModel, camel_case
from tests.conftest import ROOT

GO_SDK = ROOT / "clients" / "go"
JAVA_SOURCES = ROOT / "clients" / "java" / "src" / "main" / "java" / "com" / "k8s" / "monitor"
JAVA_CLIENT = JAVA_SOURCES / "client"
JAVA_MODELS = JAVA_CLIENT / "model"


@dataclass
class Sdk:
    """One SDK's client methods (name -> the model it returns, None for no model) and models."""

    name: str
    methods: dict[str, str | None] = field(default_factory=dict)
    models: dict[str, dict[str, str | None]] = field(default_factory=dict)


# ---- Python ---------------------------------------------------------------------------------


def _python_model(annotation: Any) -> str | None:
    """The ApiModel inside ``Model``, ``list[Model]``, ``Page[Model]``, ``dict[str, Model]``,
    ``Model | None``."""
    if inspect.isclass(annotation) and issubclass(annotation, ApiModel):
        return annotation.__name__
    for argument in typing.get_args(annotation):
        found = _python_model(argument)
        if found:
            return found
    return None


def python_models() -> dict[str, dict[str, str | None]]:
    models: dict[str, dict[str, str | None]] = {}
    for module_info in pkgutil.iter_modules(k8s_gpu_client.models.__path__):
        module = importlib.import_module(f"k8s_gpu_client.models.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, ApiModel) or cls.__module__ != module.__name__:
                continue
            hints = typing.get_type_hints(cls)
            models[name] = {
                f.metadata.get("api", camel_case(f.name)): _python_model(hints[f.name])
                for f in dataclasses.fields(cls)
                # extra, and what the envelope carries beside data (pagination), are no API fields.
                if f.name != "extra" and not f.metadata.get("envelope")
            }
    return models


def python_sdk() -> Sdk:
    sdk = Sdk("Python", models=python_models())
    client = GpuManagementClient("http://127.0.0.1:9/k8s-monitor/api/v1")
    try:
        areas: dict[str, Any] = {"": client}
        areas.update(
            {name: value for name, value in vars(client).items() if isinstance(value, Namespace)}
        )
        for area, owner in areas.items():
            for name, method in inspect.getmembers(owner, inspect.ismethod):
                if name.startswith("_") or (area == "" and name in {"close", "from_env"}):
                    continue
                returned = typing.get_type_hints(method).get("return")
                sdk.methods[f"{area}.{name}" if area else name] = _python_model(returned)
    finally:
        client.close()
    return sdk


# ---- Go -------------------------------------------------------------------------------------


def go_structs(file: str) -> dict[str, set[str]]:
    """The JSON keys of every struct of a file of clients/go, by struct name."""
    return {name: set(fields) for name, fields in go_struct_fields(file).items()}


def go_struct_fields(file: str) -> dict[str, dict[str, str]]:
    """Struct name -> {JSON key: Go type} of every struct of a file of clients/go."""
    source = (GO_SDK / file).read_text()
    structs: dict[str, dict[str, str]] = {}
    embedded: dict[str, list[str]] = {}
    for name, body in re.findall(r"^type (\w+) struct \{\n(.*?)^\}", source, re.M | re.S):
        fields = re.findall(r"^\s*\w+\s+(\S+)\s+`json:\"([^,\"]+)", body, re.M)
        structs[name] = {key: go_type for go_type, key in fields if key != "-"}
        # An embedded struct (a line naming only a type): encoding/json promotes its fields.
        embedded[name] = re.findall(r"^\t(\w+)$", body, re.M)
    for name, inner in embedded.items():
        for other in inner:
            structs[name] = {**structs[other], **structs[name]}
    return structs


def _go_model(go_type: str, models: typing.Collection[str]) -> str | None:
    """The struct of models inside ``*T``, ``[]T``, ``map[string]T``, ``*Page[T]``."""
    for candidate in re.findall(r"\w+", go_type):
        if candidate in models:
            return str(candidate)
    return None


def go_sdk() -> Sdk:
    structs = go_struct_fields("models.go")
    sdk = Sdk(
        "Go",
        models={
            name: {key: _go_model(go_type, structs) for key, go_type in fields.items()}
            for name, fields in structs.items()
        },
    )
    sources = "\n".join(
        path.read_text()
        for path in sorted(GO_SDK.glob("*.go"))
        if not path.name.endswith("_test.go")
    )
    # The Client's services: `Devices *DevicesService` fields of the Client struct.
    client_struct = re.search(r"^type Client struct \{\n(.*?)^\}", sources, re.M | re.S)
    assert client_struct, "no Client struct in clients/go"
    services = dict(re.findall(r"^\t(\w+)\s+\*(\w+Service)\b", client_struct.group(1), re.M))
    receivers = {service: area for area, service in services.items()}
    receivers["Client"] = ""
    for receiver, name, returned in re.findall(
        r"^func \(\w+ \*(\w+)\) ([A-Z]\w*)\([^()\n]*\) (.*) \{$", sources, re.M
    ):
        if receiver in receivers:
            area = receivers[receiver]
            sdk.methods[f"{area}.{name}" if area else name] = _go_model(returned, structs)
    return sdk


# ---- Java -----------------------------------------------------------------------------------

_JAVA_FIELD = re.compile(
    r'@JsonProperty\("([^"]+)"\)\s*(?:@\w+(?:\([^)]*\))?\s*)*private ([^;=]+?) \w+\s*[;=]'
)


def java_models() -> dict[str, dict[str, str | None]]:
    """Model class -> {JSON key: the model class its value holds}, superclasses' keys included."""
    declared: dict[str, tuple[str | None, dict[str, str]]] = {}
    for path in sorted(JAVA_MODELS.glob("*.java")):
        source = path.read_text()
        header = re.search(
            r"public (?:abstract )?class (\w+)(?:<[^>]*>)?(?: extends (\w+))?", source
        )
        if header is None:
            continue
        fields = {key: java_type for key, java_type in _JAVA_FIELD.findall(source)}
        declared[header.group(1)] = (header.group(2), fields)

    def keys(name: str) -> dict[str, str]:
        parent, fields = declared[name]
        inherited = keys(parent) if parent in declared else {}
        return {**inherited, **fields}

    return {
        name: {key: _java_model(java_type, declared) for key, java_type in keys(name).items()}
        for name in declared
        if name not in {"ApiModel", "PagedModel", "Page"}
    }


def _java_model(java_type: str, models: typing.Collection[str]) -> str | None:
    for candidate in re.findall(r"\w+", java_type):
        if candidate in models and candidate not in {"ApiModel", "PagedModel", "Page"}:
            return str(candidate)
    return None


def java_sdk() -> Sdk:
    models = java_models()
    sdk = Sdk("Java", models=models)
    client = (JAVA_CLIENT / "GpuManagementClient.java").read_text()
    areas = dict(re.findall(r"^    public (\w+Api) (\w+)\(\) \{", client, re.M))
    owners = {"GpuManagementClient": ""} | {cls: area for cls, area in areas.items()}
    for cls, area in owners.items():
        source = (JAVA_CLIENT / f"{cls}.java").read_text()
        for returned, name in re.findall(r"^    public ([\w<>, ]+?) (\w+)\(", source, re.M):
            sdk.methods[f"{area}.{name}" if area else name] = _java_model(returned, models)
    return sdk


def snake_to_camel(dotted: str) -> str:
    """``api_keys.set_password`` -> ``apiKeys.setPassword``: the Java SDK's spelling of the
    Python SDK's names."""
    return ".".join(camel_case(part) for part in dotted.split("."))
