"""``gpuctl``: the operator CLI on the SDK, in kubectl's manner.

Settings come from, in order: flags; environment twins (``GPUCTL_BASE_URL``, ``GPUCTL_API_KEY``,
``GPUCTL_USERNAME``, ``GPUCTL_PASSWORD``, ``GPUCTL_TOKEN``, ``GPUCTL_TIMEOUT``,
``GPUCTL_OUTPUT``, ``GPUCTL_CONTEXT``, ``GPUCTL_CERTIFICATE_AUTHORITY``,
``GPUCTL_CLIENT_CERTIFICATE``, ``GPUCTL_CLIENT_KEY``, ``GPUCTL_INSECURE_SKIP_TLS_VERIFY``); the
context (``--context``, else the contexts file's current one: k8s_gpu_client.cli.config);
defaults. Credentials are taken whole from the first of these that gives any.
Output: ``-o table`` (default), ``wide``, ``json`` and ``yaml`` (the API's fields exactly),
``name``; ``--no-headers``. A listing with no rows prints nothing on stdout.
Exit status: 0 success, 1 the service answered an error (its code on stderr), 2 usage or the
contexts file, 3 the service could not be reached (TLS verification included).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import requests

from k8s_gpu_client._version import __version__
from k8s_gpu_client.cli import commands, completion, contexts
from k8s_gpu_client.cli.config import Config, ConfigError, config_path, load
from k8s_gpu_client.cli.output import OUTPUTS
from k8s_gpu_client.client import DEFAULT_BASE_URL, GpuManagementClient
from k8s_gpu_client.errors import ApiError, TransportError

if TYPE_CHECKING:
    from requests.sessions import _Settings

ENV_PREFIX = "GPUCTL_"
Handler = Callable[[GpuManagementClient, argparse.Namespace], commands.Result]
LocalHandler = Callable[[Config, argparse.Namespace], commands.Result]

# dest, environment twin (after GPUCTL_), context key, default.
SETTINGS: tuple[tuple[str, str, str | None, Any], ...] = (
    ("base_url", "BASE_URL", "server", DEFAULT_BASE_URL),
    ("api_key", "API_KEY", "api-key", None),
    ("username", "USERNAME", "username", None),
    ("password", "PASSWORD", "password", None),
    ("token", "TOKEN", "token", None),
    ("timeout", "TIMEOUT", None, 30.0),
    ("output", "OUTPUT", None, "table"),
    ("certificate_authority", "CERTIFICATE_AUTHORITY", "certificate-authority", None),
    ("client_certificate", "CLIENT_CERTIFICATE", "client-certificate", None),
    ("client_key", "CLIENT_KEY", "client-key", None),
    ("insecure_skip_tls_verify", "INSECURE_SKIP_TLS_VERIFY", "insecure-skip-tls-verify", False),
)
CREDENTIALS = ("api_key", "username", "password", "token")
TRUE = {"1", "true", "yes", "on"}


def _common(top_level: bool) -> argparse.ArgumentParser:
    """Connection and output options, accepted before and after the command.

    On subcommands the defaults are SUPPRESS, so an option given before the command is not
    reset by the subcommand's parser; at the top level they are None, and :func:`resolve`
    fills them from the environment, the context and the defaults.
    """
    parser = argparse.ArgumentParser(add_help=False)
    default = None if top_level else argparse.SUPPRESS
    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--server",
        "--base-url",
        dest="base_url",
        default=default,
        help=f"API base URL (env GPUCTL_BASE_URL; default {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--api-key", default=default, help="API key, sent as Bearer (env GPUCTL_API_KEY)"
    )
    group.add_argument("--username", default=default, help="HTTP basic user (env GPUCTL_USERNAME)")
    group.add_argument(
        "--password",
        default=default,
        help="HTTP basic password, i.e. the API key (env GPUCTL_PASSWORD)",
    )
    group.add_argument(
        "--token", default=default, help="a bearer token, e.g. an OIDC id token (env GPUCTL_TOKEN)"
    )
    group.add_argument(
        "--context",
        default=default,
        help="the context of the contexts file to use (env GPUCTL_CONTEXT)",
    )
    group.add_argument(
        "--certificate-authority",
        metavar="FILE",
        default=default,
        help="CA certificates (PEM) to verify the server with",
    )
    group.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        default=default,
        help="do not verify the server's certificate (insecure)",
    )
    group.add_argument(
        "--client-certificate", metavar="FILE", default=default, help="client certificate (PEM)"
    )
    group.add_argument(
        "--client-key", metavar="FILE", default=default, help="the client certificate's key (PEM)"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=default,
        help="seconds to wait for an answer (env GPUCTL_TIMEOUT; default 30)",
    )
    group.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default=default,
        help="table (default), wide (more columns), json or yaml (the API's fields), name "
        "(env GPUCTL_OUTPUT)",
    )
    group.add_argument(
        "--no-headers",
        action="store_true",
        default=default,
        help="tables without their header row",
    )
    return parser


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The parser (``env`` is accepted for older callers: the environment is read by
    :func:`resolve`, after parsing)."""
    common = _common(top_level=False)
    parser = argparse.ArgumentParser(
        prog="gpuctl",
        description="Operate the K8s GPU Management API: GPUs, allocations, MIG, cost, forecasts.",
        parents=[_common(top_level=True)],
    )
    parser.add_argument("--version", action="version", version=f"gpuctl {__version__}")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        sub: Any, name: str, handler: Handler | None, help_text: str, **extra: Any
    ) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, parents=[common], **extra
        )
        if handler is not None:
            command.set_defaults(handler=handler)
        return command

    def local(
        sub: Any, name: str, handler: LocalHandler, help_text: str
    ) -> argparse.ArgumentParser:
        command = add(sub, name, None, help_text)
        command.set_defaults(local=handler)
        return command

    def group(name: str, help_text: str) -> Any:
        section = groups.add_parser(name, help=help_text, description=help_text)
        return section.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    def device_filters(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--node", help="only this node")
        cmd.add_argument("--model", help="only this model id, e.g. A100_80GB")
        cmd.add_argument(
            "--status", help="available, active, maintenance, inactive, failed or mig_enabled"
        )

    def allocation_filters(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "-n", "--namespace", help="only this namespace (default: the context's namespace)"
        )
        cmd.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
        cmd.add_argument("--user", help="only this user")
        cmd.add_argument("--team", help="only this team")
        cmd.add_argument("--status", help="ALLOCATED (default), RELEASED, EXPIRED or ALL")

    # kubectl's verb first: `gpuctl get devices [ID]`, `gpuctl get allocations [ID]`.
    get = group("get", "List resources, or one by its id, as a table (or -o json|yaml|wide)")
    cmd = add(get, "devices", commands.devices_list, "List GPUs", aliases=["device", "gpus"])
    cmd.add_argument("device_id", nargs="?", help="only this device id")
    device_filters(cmd)
    cmd = add(
        get, "allocations", commands.allocations_list, "List allocations", aliases=["allocation"]
    )
    cmd.add_argument("allocation_id", nargs="?", help="only this allocation id")
    allocation_filters(cmd)
    add(get, "mig-instances", commands.mig_available, "Free MIG instances")

    devices = group("devices", "GPU inventory")
    cmd = add(devices, "list", commands.devices_list, "List GPUs")
    device_filters(cmd)
    cmd = add(devices, "show", commands.devices_show, "Show one GPU")
    cmd.add_argument("device_id", help="device id, e.g. gpu-worker-1-GPU-00")
    cmd = add(devices, "health", commands.devices_health, "Health verdict of one GPU")
    cmd.add_argument("device_id", help="device id")
    add(devices, "stats", commands.devices_stats, "GPU counts by model, node and status")

    cmd = add(groups, "allocate", commands.allocate, "Allocate a GPU or MIG instance")
    cmd.add_argument(
        "-n", "--namespace", help="namespace of the pod (default: the context's namespace)"
    )
    cmd.add_argument("--pod", required=True, help="pod that will use the GPU")
    cmd.add_argument("--memory-gb", type=float, required=True, help="GPU memory needed, GB")
    cmd.add_argument("--mig", action="store_true", help="a MIG instance instead of a whole GPU")
    cmd.add_argument("--workload-type", help="Inference, Training, Development, ...")
    cmd.add_argument("--container", help="container name")
    cmd.add_argument("--model", help="preferred GPU model id")
    cmd.add_argument("--user", help="user charged")
    cmd.add_argument("--team", help="team charged")
    cmd.add_argument("--project", help="project charged")
    cmd.add_argument("--max-cost-per-hour", type=float, help="refuse dearer resources, USD/hour")
    cmd.add_argument("--release-at", help="planned release time, ISO-8601 UTC")
    cmd = add(groups, "release", commands.release, "Release an allocation")
    cmd.add_argument("allocation_id", help="allocation id, ALLOC-...")

    allocations = group("allocations", "The allocation ledger")
    cmd = add(allocations, "list", commands.allocations_list, "List allocations")
    allocation_filters(cmd)
    cmd = add(allocations, "show", commands.allocations_show, "Show one allocation")
    cmd.add_argument("allocation_id", help="allocation id")
    cmd = add(allocations, "expiring", commands.allocations_expiring, "Allocations ending soon")
    cmd.add_argument("--hours", type=int, default=24, help="window ahead, hours (default 24)")

    mig = group("mig", "MIG layouts")
    cmd = add(mig, "show", commands.mig_show, "Show a GPU's MIG layout, desired and observed")
    cmd.add_argument("device_id", help="device id")
    cmd = add(
        mig, "plan", commands.mig_plan, "Pre-check MIG profiles on a GPU; --apply creates them"
    )
    cmd.add_argument("device_id", help="device id")
    cmd.add_argument("profiles", nargs="+", metavar="PROFILE", help="e.g. 1g.10gb 2g.20gb")
    cmd.add_argument(
        "--apply", action="store_true", help="create the instances (the service validates)"
    )
    cmd = add(mig, "delete", commands.mig_delete, "Remove all MIG instances of a GPU")
    cmd.add_argument("device_id", help="device id")
    add(mig, "available", commands.mig_available, "Free MIG instances")

    cost = group("cost", "Cost analysis")
    cmd = add(cost, "report", commands.cost_report, "Cost analysis (USD) over a window")
    cmd.add_argument("--days", type=int, default=30, help="window, days (default 30)")
    cmd = add(cost, "stats", commands.cost_stats, "Allocation cost by team, namespace, user")
    cmd.add_argument("--days", type=int, help="only the last N days")
    cmd = add(cost, "optimize", commands.cost_optimize, "Optimisation suggestions (USD/month)")
    cmd.add_argument("--days", type=int, help="window the suggestions look at, days")

    cmd = add(groups, "forecast", commands.forecast, "GPU (or cluster resource) demand forecast")
    cmd.add_argument("--hours", type=int, default=24, help="horizon, hours (default 24)")
    cmd.add_argument(
        "--resources", action="store_true", help="CPU/memory/GPU of the cluster (/resources)"
    )
    add(groups, "overview", commands.overview, "Cluster GPU overview")

    config = group("config", "Contexts: named servers and credentials (GPUCTL_CONFIG)")
    local(config, "get-contexts", contexts.get_contexts, "List the contexts")
    local(config, "current-context", contexts.current_context, "Print the current context")
    cmd = local(config, "use-context", contexts.use_context, "Make a context the current one")
    cmd.add_argument("name", help="context name")
    cmd = local(
        config,
        "set-context",
        contexts.set_context,
        "Create a context or change it: --server, credentials, --namespace and TLS flags",
    )
    cmd.add_argument("name", help="context name")
    cmd.add_argument("-n", "--namespace", help="the context's default namespace")
    cmd = local(config, "delete-context", contexts.delete_context, "Delete a context")
    cmd.add_argument("name", help="context name")

    cmd = groups.add_parser(
        "completion",
        help="Print a shell completion script",
        description="Print a completion script: source <(gpuctl completion bash); "
        "for zsh the same with zsh; gpuctl completion fish | source.",
    )
    cmd.add_argument("shell", choices=completion.SHELLS)
    cmd.set_defaults(shell_script=True)
    return parser


def _env_value(dest: str, raw: str) -> Any:
    if dest == "timeout":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"GPUCTL_TIMEOUT: not a number of seconds: {raw!r}") from None
    if dest == "insecure_skip_tls_verify":
        return raw.lower() in TRUE
    return raw


def resolve(args: argparse.Namespace, env: Mapping[str, str], context: Mapping[str, Any]) -> None:
    """Fill every connection and output setting: flag, environment, context, default.
    Credentials come whole from the first source that gives any of them."""
    flags = {dest: getattr(args, dest, None) for dest, *_ in SETTINGS}
    from_env = {
        dest: _env_value(dest, env[ENV_PREFIX + name])
        for dest, name, _, _ in SETTINGS
        if env.get(ENV_PREFIX + name)
    }
    from_context = {dest: context[key] for dest, _, key, _ in SETTINGS if key and key in context}
    sources = [{k: v for k, v in flags.items() if v is not None}, from_env, from_context]
    credentials = next((s for s in sources if any(k in s for k in CREDENTIALS)), {})
    for dest, _, _, fallback in SETTINGS:
        if dest in CREDENTIALS:
            setattr(args, dest, credentials.get(dest))
            continue
        setattr(args, dest, next((s[dest] for s in sources if dest in s), fallback))
    if args.output not in OUTPUTS:
        raise ConfigError(f"output {args.output!r}: choose one of {', '.join(OUTPUTS)}")
    if getattr(args, "namespace", None) is None and "namespace" in args:
        args.namespace = context.get("namespace")


class _TlsSession(requests.Session):
    """A session whose ``verify`` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE: requests lets
    those variables replace a session's own ``verify`` on every request (psf/requests#3829), so
    --certificate-authority and --insecure-skip-tls-verify would be ignored where they are set."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


def _session(args: argparse.Namespace) -> requests.Session:
    """A session carrying the TLS settings: the CA bundle or no verification, a client cert."""
    session = _TlsSession()
    for flag in ("certificate_authority", "client_certificate", "client_key"):
        path = getattr(args, flag)
        if path and not os.path.isfile(path):
            raise ConfigError(f"--{flag.replace('_', '-')}: no such file: {path}")
    if args.insecure_skip_tls_verify:
        session.verify = False
    elif args.certificate_authority:
        session.verify = args.certificate_authority
    if args.client_key and not args.client_certificate:
        raise ConfigError("--client-key needs --client-certificate")
    if args.client_certificate:
        session.cert = (
            (args.client_certificate, args.client_key)
            if args.client_key
            else args.client_certificate
        )
    return session


def _call(args: argparse.Namespace) -> commands.Result:
    if args.api_key and (args.username or args.password):
        raise ConfigError("give --api-key or --username/--password, not both")
    if args.token and (args.api_key or args.username or args.password):
        raise ConfigError("give --token alone, without --api-key or --username/--password")
    if args.command == "allocate" and not args.namespace:
        raise ConfigError("allocate needs --namespace (or a context with a namespace)")
    session = _session(args)
    try:
        with (
            warnings.catch_warnings(),
            GpuManagementClient(
                args.base_url,
                args.api_key,
                username=args.username,
                password=args.password,
                token=args.token,
                timeout=args.timeout,
                session=session,
            ) as client,
        ):
            if args.insecure_skip_tls_verify:
                # Asked for on the command line: urllib3's warning on every request adds nothing.
                warnings.filterwarnings("ignore", message="Unverified HTTPS request")
            handler: Handler = args.handler
            return handler(client, args)
    finally:
        session.close()


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    env = os.environ if env is None else env
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "shell_script", False):
        out.write(completion.script(args.shell, parser))
        return 0
    try:
        config = load(config_path(env))
        context_name = args.context or env.get(ENV_PREFIX + "CONTEXT") or None
        local: LocalHandler | None = getattr(args, "local", None)
        if local is not None:
            # `config` commands write what their flags say: no environment or defaults mixed in.
            args.output = args.output or env.get(ENV_PREFIX + "OUTPUT") or "table"
            result = local(config, args)
        else:
            resolve(args, env, config.context(context_name))
            result = _call(args)
    except ConfigError as exc:
        err.write(f"gpuctl: {exc}\n")
        return 2
    except ApiError as exc:
        err.write(f"gpuctl: {exc}\n")
        if exc.details:
            err.write(f"details: {exc.details}\n")
        for name, messages in exc.fields.items():
            err.write(f"field {name}: {commands.to_json(messages)}\n")
        if exc.context:
            err.write(f"context: {commands.to_json(exc.context)}\n")
        return 1
    except TransportError as exc:
        err.write(f"gpuctl: {exc}\n")
        return 3
    if result.empty_listing and args.output not in ("json", "yaml"):
        err.write("No resources found.\n")
        return result.exit_code
    out.write(result.text(args.output, bool(args.no_headers)) + "\n")
    return result.exit_code
