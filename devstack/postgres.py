"""A real PostgreSQL server (Debian's package) in a temporary directory: initdb, start, stop.

Used by the tests and the benchmarks: ``with PostgresServer() as server:`` gives a running
server on a unix socket in its own temporary directory (and on a loopback port), databases are
made with ``create_database`` and reached through ``url(name)``, and leaving the block stops
the server (fast shutdown, then SIGKILL after a grace period) and deletes its directory.

``initdb`` and ``postgres`` refuse to run as root: as root, both run as the ``postgres`` system
user (made by the Debian package), which owns the temporary directory. Authentication is
``trust`` for local and loopback connections: the server is reachable only from this host.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devstack.processes import die_with_parent
from devstack.prometheus import free_port
from devstack.server import ServerError, ServerProcess

# Debian installs the server binaries outside PATH, one directory per major version.
DEBIAN_BIN_DIRS = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Settings for a throwaway server: nothing survives an OS crash, which tests do not need.
# Killing the *clients* (gunicorn) is unaffected: committed data is in PostgreSQL's buffers.
THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresError(ServerError):
    """The server could not be found, initialised or started."""


def bin_dir() -> Path:
    """Where initdb, postgres and pg_isready are: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("postgres") is not None:
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        (p for p in DEBIAN_BIN_DIRS.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise PostgresError(
            "PostgreSQL is not installed: `make test` (scripts/bootstrap.sh) installs Debian's "
            "postgresql package"
        )
    return versions[-1]


class PostgresServer(ServerProcess):
    """One ``postgres`` process on a fresh cluster in a temporary directory (removed when it
    stops). Stopped with SIGINT, PostgreSQL's fast shutdown (roll back sessions, checkpoint):
    SIGTERM would wait for every client to disconnect."""

    NAME = "postgres"
    ERROR = PostgresError
    STOP_GRACE = 15.0
    STOP_SIGNAL = signal.SIGINT
    READY_POLL_SECONDS = 0.05

    def __init__(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        max_connections: int = 300,
        port: int | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.bin = bin_dir()
        self.port = port or free_port()
        self._settings = {"max_connections": str(max_connections), **(settings or {})}
        self._start_timeout = start_timeout
        self._user = SUPERUSER if os.geteuid() == 0 else None
        self.base = Path(tempfile.mkdtemp(prefix="gpu-pg-"))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.log_path = self.base / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.socket_dir.mkdir()
        if self._user is not None:
            try:
                account = pwd.getpwnam(self._user)
            except KeyError as exc:
                raise PostgresError(
                    f"running as root needs the {self._user!r} user (Debian's postgresql "
                    "package creates it)"
                ) from exc
            for path in (self.base, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run(
            [
                str(self.bin / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ]
        )
        options = [f"-c{key}={value}" for key, value in self._settings.items()]
        command = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data_dir),
            "-k",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-clisten_addresses=127.0.0.1",
            *options,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
                env=self._environment(),
                user=self._user,
                group=self._group(),
                extra_groups=[] if self._user is not None else None,
                start_new_session=True,
                # After the switch to the postgres user (which would clear it): die with us.
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl and getppid run there
            )
        self.wait_ready(self._start_timeout)

    def stop(self, grace: float | None = None) -> None:
        super().stop(grace)
        shutil.rmtree(self.base, ignore_errors=True)

    def is_ready(self) -> bool:
        ready = [
            str(self.bin / "pg_isready"),
            "--quiet",
            f"--host={self.socket_dir}",
            f"--port={self.port}",
            f"--username={SUPERUSER}",
            "--dbname=postgres",
        ]
        return subprocess.run(ready, check=False, timeout=10).returncode == 0

    # -- databases ------------------------------------------------------------------------

    def url(self, database: str, *, tcp: bool = False, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL of ``database``: over the unix socket, or the loopback port."""
        if tcp:
            return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"
        return f"{driver}://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create ``name`` (a copy of ``template`` when given); returns its URL."""
        statement = f"CREATE DATABASE {_checked(name)}"
        if template is not None:
            statement += f" TEMPLATE {_checked(template)}"
        self.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any session still connected to it."""
        self.execute(f"DROP DATABASE IF EXISTS {_checked(name)} WITH (FORCE)")

    def execute(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (as CREATE DATABASE needs); its rows."""
        import psycopg  # the postgresql extra; only callers that talk to the server need it

        with psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
        ) as conn:
            cursor = conn.execute(statement.encode())
            return list(cursor.fetchall()) if cursor.description is not None else []

    # -- internals ------------------------------------------------------------------------

    def _group(self) -> int | None:
        return pwd.getpwnam(self._user).pw_gid if self._user is not None else None

    def _environment(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}

    def _run(self, command: Sequence[str]) -> None:
        result = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=self.base,
            env=self._environment(),
            user=self._user,
            group=self._group(),
            extra_groups=[] if self._user is not None else None,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise PostgresError(f"{command[0]} failed ({result.returncode}): {output[-2000:]}")


def _checked(name: str) -> str:
    """A database name safe to put in a statement unquoted (ours are generated)."""
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name
