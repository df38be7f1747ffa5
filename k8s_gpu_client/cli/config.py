"""``gpuctl``'s contexts file: named connections (server, credentials, TLS, default namespace),
and which one is current, like kubectl's kubeconfig.

The file is ``$GPUCTL_CONFIG``, else ``$XDG_CONFIG_HOME/gpuctl/config.yaml``, else
``~/.config/gpuctl/config.yaml``::

    current-context: prod
    contexts:
      - name: prod
        server: https://gpu.example.com/k8s-monitor/api/v1
        api-key: KEY                  # or username + password, or token
        namespace: team-a             # allocate's and `get allocations`' default
        certificate-authority: /etc/gpuctl/ca.pem
        client-certificate: /etc/gpuctl/me.pem
        client-key: /etc/gpuctl/me-key.pem
        insecure-skip-tls-verify: false

It holds credentials, so it is written readable by its owner alone (0600).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The keys of a context, in the order they are written; each is also a gpuctl flag.
CONTEXT_KEYS = (
    "server",
    "api-key",
    "username",
    "password",
    "token",
    "namespace",
    "certificate-authority",
    "client-certificate",
    "client-key",
    "insecure-skip-tls-verify",
)
TEXT_KEYS = frozenset(CONTEXT_KEYS) - {"insecure-skip-tls-verify"}


class ConfigError(Exception):
    """The contexts file cannot be read, or names a context that is not there."""


def config_path(env: Mapping[str, str]) -> Path | None:
    """Where the contexts file is; None when the environment names no home for it."""
    if env.get("GPUCTL_CONFIG"):
        return Path(env["GPUCTL_CONFIG"])
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "gpuctl" / "config.yaml"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".config" / "gpuctl" / "config.yaml"
    return None


@dataclass
class Config:
    """The file's contents: contexts by name, in file order, and the current one's name."""

    path: Path | None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: str | None = None

    def context(self, name: str | None) -> dict[str, Any]:
        """The named context, else the current one, else none (an empty mapping)."""
        chosen = name or self.current
        if chosen is None:
            return {}
        if chosen not in self.contexts:
            where = self.path or "no contexts file"
            raise ConfigError(f'context "{chosen}" is not in {where}')
        return self.contexts[chosen]

    def save(self) -> None:
        if self.path is None:
            raise ConfigError("no contexts file: set GPUCTL_CONFIG or HOME")
        document: dict[str, Any] = {}
        if self.current is not None:
            document["current-context"] = self.current
        document["contexts"] = [
            {"name": name, **{k: context[k] for k in CONTEXT_KEYS if k in context}}
            for name, context in self.contexts.items()
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)


def load(path: Path | None) -> Config:
    """The contexts file at ``path``; an empty configuration when there is none."""
    if path is None or not path.exists():
        return Config(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: expected a mapping with contexts and current-context")
    config = Config(path, current=document.get("current-context") or None)
    for index, entry in enumerate(document.get("contexts") or []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{path}: contexts[{index}] needs a name")
        unknown = set(entry) - {"name", *CONTEXT_KEYS}
        if unknown:
            raise ConfigError(
                f"{path}: context {entry['name']!r}: unknown keys {', '.join(sorted(unknown))}"
            )
        for key in TEXT_KEYS & set(entry):
            if not isinstance(entry[key], str):
                raise ConfigError(f"{path}: context {entry['name']!r}: {key} must be a string")
        config.contexts[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
    return config
