"""``gpu-analytics``: serve (gunicorn), migrate; users and API keys on the configured database
(create-user, list-users, disable-user, enable-user, set-password, create-api-key,
list-api-keys, revoke-api-key). Passwords are never taken on the command line (other users of
the host see it): they are read from stdin, or generated and printed once."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

from analytics.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.load(os.environ)
    except SettingsError as exc:
        raise SystemExit(f"gpu-analytics: {exc}") from exc


def _serve(args: argparse.Namespace) -> int:
    settings = _settings()
    if args.workers > 1 and settings.metrics_multiprocess_dir is None:
        # prometheus_client picks its value store when first imported, so this must happen
        # before the app (and prometheus_client) is imported below.
        multiproc = (settings.data_dir / "prometheus-multiproc").resolve()
        shutil.rmtree(multiproc, ignore_errors=True)
        multiproc.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        settings = settings.replace(metrics_multiprocess_dir=multiproc)

    from gunicorn.app.base import BaseApplication

    from analytics.app import create_app, open_database, prepare_database
    from analytics.clock import SystemClock
    from analytics.serving.worker import buffered_worker

    # Migrate once in the master, so workers start on a current schema.
    database = open_database(settings)
    prepare_database(database, settings, SystemClock())
    database.dispose()
    worker_settings = settings.replace(migrate_on_start=False)
    multiproc_dir = settings.metrics_multiprocess_dir
    worker_class: Any = args.worker_class
    if worker_class == "buffered":
        worker_class = buffered_worker(args.client_timeout, settings.max_request_bytes)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", [args.bind])
            self.cfg.set("workers", args.workers)
            self.cfg.set("worker_class", worker_class)
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("keepalive", 5)
            # Several servers may run on one host (tests, bench): no shared control socket.
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("loglevel", settings.log_level.lower())
            if args.access_log:
                self.cfg.set("accesslog", "-")
            if multiproc_dir is not None:
                self.cfg.set("child_exit", _mark_dead)

        def load(self) -> Any:
            app = create_app(worker_settings)
            # Start-up objects (app, schemas, SQLAlchemy metadata) live as long as the worker:
            # moving them out of the collector's reach shortens GC pauses on requests.
            gc.freeze()
            return app

    Server().run()
    return 0


def _mark_dead(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _migrate(_args: argparse.Namespace) -> int:
    from analytics.app import open_database, prepare_database
    from analytics.clock import SystemClock
    from analytics.store.migrate import current_revisions

    database = open_database(_settings())
    prepare_database(database, _settings(), SystemClock())
    print(f"schema at revision {','.join(current_revisions(database))}")
    return 0


def _account_command(work: Callable[[Any, argparse.Namespace], int]) -> Callable[..., int]:
    """Run ``work(services, args)`` on the configured (migrated) database; domain errors are
    printed and exit 2."""

    def run(args: argparse.Namespace) -> int:
        from analytics.app import open_database, prepare_database
        from analytics.clock import SystemClock
        from analytics.errors import AnalyticsError
        from analytics.services.access.apikeys import ApiKeyService
        from analytics.services.access.users import UserService

        settings = _settings()
        database = open_database(settings)
        try:
            prepare_database(database, settings, SystemClock())
            accounts = argparse.Namespace(
                users=UserService(database, SystemClock()),
                api_keys=ApiKeyService(database, SystemClock(), None),
            )
            return work(accounts, args)
        except AnalyticsError as exc:
            print(f"gpu-analytics: {exc.message}", file=sys.stderr)
            return 2
        finally:
            database.dispose()

    return run


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from stdin (first line) with --password-stdin, else a generated one;
    and whether it was generated (then it is printed once)."""
    from analytics.services.access.users import generate_password

    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise SystemExit("gpu-analytics: --password-stdin: no password on stdin")
        return line, False
    return generate_password(), True


def _create_user(accounts: Any, args: argparse.Namespace) -> int:
    password, generated = _password(args)
    user = accounts.users.create(args.username, password, args.role, args.team)
    print(
        f"created user {user.username} (role {user.role}, team {user.team or '-'})", file=sys.stderr
    )
    if generated:
        print("its password, shown only now:", file=sys.stderr)
        print(password)
    return 0


def _list_users(accounts: Any, _args: argparse.Namespace) -> int:
    for user in accounts.users.list_users():
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.username}\t{user.role}\t{user.team or '-'}\t{state}")
    return 0


def _set_disabled(disabled: bool) -> Callable[[Any, argparse.Namespace], int]:
    def run(accounts: Any, args: argparse.Namespace) -> int:
        user = accounts.users.update(args.username, disabled=disabled)
        state = "disabled" if user.disabled else "enabled"
        print(f"user {user.username} {state}", file=sys.stderr)
        return 0

    return run


def _set_password(accounts: Any, args: argparse.Namespace) -> int:
    password, generated = _password(args)
    accounts.users.set_password(args.username, password)
    print(f"password of {args.username} set", file=sys.stderr)
    if generated:
        print("the new password, shown only now:", file=sys.stderr)
        print(password)
    return 0


def _create_api_key(accounts: Any, args: argparse.Namespace) -> int:
    created = accounts.api_keys.create(args.role, args.name, args.user)
    owner = f", user {created.username}" if created.username else ""
    print(
        f"created API key {created.key_id} ({created.name}, role {created.role}{owner}); "
        "it is shown only now:",
        file=sys.stderr,
    )
    print(created.key)
    return 0


def _list_api_keys(accounts: Any, args: argparse.Namespace) -> int:
    for key in accounts.api_keys.list_keys(args.user):
        state = f"revoked {key.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if key.revoked_at else "active"
        print(f"{key.key_id}\t{key.name}\t{key.role}\t{key.username or '-'}\t{state}")
    return 0


def _revoke_api_key(accounts: Any, args: argparse.Namespace) -> int:
    accounts.api_keys.revoke(args.key_id)
    print(f"API key {args.key_id} revoked", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpu-analytics",
        description="GPU analytics service. Settings come from GPU_ANALYTICS_* variables and "
        "the file named by GPU_ANALYTICS_CONFIG (see docs/analytics.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API under gunicorn")
    serve.add_argument(
        "--bind", default=os.environ.get("GPU_ANALYTICS_BIND", "0.0.0.0:8080"), help="HOST:PORT"
    )
    serve.add_argument(
        "--workers", type=int, default=int(os.environ.get("GPU_ANALYTICS_WORKERS", "2"))
    )
    serve.add_argument(
        "--worker-class",
        default=os.environ.get("GPU_ANALYTICS_WORKER_CLASS", "buffered"),
        choices=["buffered", "gthread", "sync"],
        help="buffered (default): threads that only see requests that have fully arrived, so "
        "idle or slow clients cannot hold them; gthread and sync are gunicorn's own and can be "
        "stalled by a few slow clients (docs/analytics.md, Serving)",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("GPU_ANALYTICS_THREADS", "4")),
        help="threads per worker (buffered and gthread)",
    )
    serve.add_argument(
        "--client-timeout",
        type=float,
        default=float(os.environ.get("GPU_ANALYTICS_CLIENT_TIMEOUT_SECONDS", "10")),
        help="seconds a client has to send a whole request (buffered worker); also bounds "
        "each socket read and write of a request",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(run=_migrate)

    roles = ["viewer", "operator", "admin"]
    stdin_help = "read the password from the first line of stdin (default: generate one and "
    stdin_help += "print it once)"

    user = commands.add_parser("create-user", help="create a user (docs/auth.md)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=roles)
    user.add_argument("--team", help="the user's team")
    user.add_argument("--password-stdin", action="store_true", help=stdin_help)
    user.set_defaults(run=_account_command(_create_user))

    users = commands.add_parser("list-users", help="list users: name, role, team, state")
    users.set_defaults(run=_account_command(_list_users))

    for name, disabled in (("disable-user", True), ("enable-user", False)):
        toggle = commands.add_parser(
            name,
            help="disable a user (their password, keys and tokens are refused)"
            if disabled
            else "enable a disabled user",
        )
        toggle.add_argument("username")
        toggle.set_defaults(run=_account_command(_set_disabled(disabled)))

    password = commands.add_parser("set-password", help="set or rotate a user's password")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true", help=stdin_help)
    password.set_defaults(run=_account_command(_set_password))

    key = commands.add_parser("create-api-key", help="create an API key and print it once")
    key.add_argument("--role", required=True, choices=roles)
    key.add_argument("--name", help="a label for the key (default: user or role, and key id)")
    key.add_argument(
        "--user", help="the user the key acts for (its role at most theirs); default: none"
    )
    key.set_defaults(run=_account_command(_create_api_key))

    keys = commands.add_parser("list-api-keys", help="list API keys (never the keys)")
    keys.add_argument("--user", help="only this user's keys")
    keys.set_defaults(run=_account_command(_list_api_keys))

    revoke = commands.add_parser("revoke-api-key", help="revoke an API key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_account_command(_revoke_api_key))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
