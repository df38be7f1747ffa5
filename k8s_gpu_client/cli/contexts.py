"""``gpuctl config ...``: list, pick, write and delete contexts of the contexts file."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from k8s_gpu_client.cli.commands import Result
from k8s_gpu_client.cli.config import CONTEXT_KEYS, Config, ConfigError
from k8s_gpu_client.cli.output import Style, table

# Context key -> the parsed argument that sets it (the connection flags of every command).
FLAG_OF_KEY = {key: key.replace("-", "_") for key in CONTEXT_KEYS} | {"server": "base_url"}


@dataclass(frozen=True)
class ContextRow:
    current: bool
    name: str
    server: str | None
    namespace: str | None
    auth: str


def _auth(context: dict[str, Any]) -> str:
    if context.get("api-key"):
        return "api-key"
    if context.get("token"):
        return "token"
    if context.get("username") or context.get("password"):
        return "basic"
    return "none"


def get_contexts(config: Config, args: argparse.Namespace) -> Result:
    rows = [
        ContextRow(name == config.current, name, c.get("server"), c.get("namespace"), _auth(c))
        for name, c in config.contexts.items()
    ]
    data = [
        {"name": r.name, "current": r.current, "server": r.server, "namespace": r.namespace}
        | {"auth": r.auth}
        for r in rows
    ]

    def render(style: Style) -> str:
        cells = [
            ["*" if r.current else "", r.name, r.server or "", r.namespace or "", r.auth]
            for r in rows
        ]
        return table(cells, ["CURRENT", "NAME", "SERVER", "NAMESPACE", "AUTH"], style)

    return Result(data, render, names=[r.name for r in rows])


def current_context(config: Config, args: argparse.Namespace) -> Result:
    if config.current is None:
        raise ConfigError("current-context is not set")
    name = config.current
    return Result({"currentContext": name}, lambda style: name)


def use_context(config: Config, args: argparse.Namespace) -> Result:
    config.context(args.name)  # it must exist
    config.current = args.name
    config.save()
    return Result(
        {"currentContext": args.name}, lambda style: f'Switched to context "{args.name}".'
    )


def set_context(config: Config, args: argparse.Namespace) -> Result:
    """Create a context, or change the keys given as flags in an existing one."""
    context = config.contexts.setdefault(args.name, {})
    given = {
        key: getattr(args, flag)
        for key, flag in FLAG_OF_KEY.items()
        if getattr(args, flag, None) not in (None, False)
    }
    if {"api-key", "token", "username", "password"} & set(given):
        # Credentials replace the context's: one way of signing in per context.
        for key in ("api-key", "token", "username", "password"):
            context.pop(key, None)
    context.update(given)
    if config.current is None:
        config.current = args.name
    config.save()
    return Result({"name": args.name, **context}, lambda style: f'Context "{args.name}" set.')


def delete_context(config: Config, args: argparse.Namespace) -> Result:
    config.context(args.name)
    del config.contexts[args.name]
    if config.current == args.name:
        config.current = None
    config.save()
    return Result({"name": args.name}, lambda style: f'Deleted context "{args.name}".')
