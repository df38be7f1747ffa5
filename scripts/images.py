#!/usr/bin/env python3
"""`make images`: the exporter and analytics images as OCI archives, built without Docker.

Each image is two layers on Debian's Python, the same layout as docker/*.Dockerfile:

1. the base: a Debian root filesystem made by mmdebstrap from Debian's archive (no registry is
   pulled from), with Python and what manylinux wheels need; one tarball shared by both images;
2. the application: a venv at /opt/venv holding the project's wheel and the pinned wheels of its
   extra (docker/<image>.lock.txt), plus the image's non-root user and its data directory.

The venv is built in a throwaway copy of the base (the build stage: wheels and pip are mounted
in, never copied), and only /opt/venv leaves it. What each image runs (entry point, command,
user, environment, ports, volumes, the packages it copies and the extra it installs) is read
from its Dockerfile, so the two ways of building cannot drift apart.

Reproducible from pinned inputs: the Debian suite (and a snapshot mirror, if one is given with
IMAGES_DEBIAN_MIRROR), the lock files, and SOURCE_DATE_EPOCH (default: the time of the last
commit that changed a layer's inputs) for every timestamp; layers are tarred in name order with fixed owners and times, and compressed
without a timestamp (scripts/oci_archive.py writes the archives). Built layers are cached in
build/images/cache under a key of their inputs, so a second `make images` only re-assembles the
archives.

Needs root (mmdebstrap's root mode, chroot) and the Debian packages `mmdebstrap` and `tar`
(scripts/bootstrap.sh images). Usage::

    scripts/images.py build [--only NAME] [--out DIR] [--cache DIR] [--source URL]
    scripts/images.py lock [--venv .venv]     # regenerate docker/*.lock.txt
    scripts/images.py version                 # the version the images are tagged with
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import email.utils
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import oci_archive  # scripts/oci_archive.py, next to this file

# It compresses the cached layers: a change to it is a change of their inputs.
ARCHIVER = Path(oci_archive.__file__)

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
OUT = ROOT / "build" / "images"

# The base: Debian 12's Python 3.11 (the Dockerfiles' python:3.11-slim-bookworm is the same
# Python minor and glibc). libstdc++6: manylinux wheels (grpcio, numpy, pandas) link it.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
BASE_PACKAGES = ("python3", "ca-certificates", "libstdc++6")
# No documentation, manual pages or translations in the image (copyright files stay).
BASE_DPKG_OPTIONS = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
)
VENV = "/opt/venv"
# The PATH a container gets when its image sets none (Docker's and containerd's default).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGES = ("gpu-exporter", "gpu-analytics")
# The pip that installs the venvs in the build stage (and only there), pinned like the wheels.
PIP_LOCK = DOCKER / "pip.lock.txt"
# The build stage's environment: nothing of the host's (PIP_* variables, a pyenv PATH) leaks in.
CHROOT_ENV = (
    f"/usr/bin/env -i PATH={DEFAULT_PATH} HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1"
)


class ImageBuildError(Exception):
    """A build step failed or an input is malformed; the message says which."""


def project_version() -> str:
    """The version the images are labelled and tagged with: the project's, in one place (the
    VERSION file both distributions and gpucatalog.release read)."""
    return (ROOT / "VERSION").read_text(encoding="utf-8").strip()


def project_license() -> str:
    license_ = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    return str(license_["text"] if isinstance(license_, dict) else license_)


# -- what each image is: read from its Dockerfile ----------------------------------------------


@dataclass(frozen=True)
class ImageSpec:
    """One image, as its Dockerfile describes it."""

    name: str
    dockerfile: Path
    packages: tuple[str, ...]  # the project's packages the build stage copies
    install: str  # the pip target of the build stage, e.g. ".[exporter]"
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    user: str  # "uid:gid", numeric
    env: tuple[tuple[str, str], ...]
    exposed_ports: tuple[str, ...]
    volumes: tuple[str, ...]

    @property
    def extras(self) -> str:
        found = re.fullmatch(r"\.\[([a-z0-9_,-]+)\]", self.install)
        if not found:
            raise ImageBuildError(
                f"{self.dockerfile.name}: pip target {self.install!r} is not .[extras]"
            )
        return found.group(1)

    @property
    def lock(self) -> Path:
        return DOCKER / f"{self.dockerfile.name.removesuffix('.Dockerfile')}.lock.txt"

    @property
    def uid_gid(self) -> tuple[int, int]:
        uid, _, gid = self.user.partition(":")
        return int(uid), int(gid or uid)


def instructions(path: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _json_list(path: Path, keyword: str, rest: str) -> tuple[str, ...]:
    try:
        value = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise ImageBuildError(f"{path.name}: {keyword} must be a JSON list, not {rest!r}") from exc
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ImageBuildError(f"{path.name}: {keyword} must be a JSON list of strings")
    return tuple(value)


def read_spec(name: str, dockerfile: Path | None = None) -> ImageSpec:
    """The image ``name`` (gpu-exporter, gpu-analytics) from ``dockerfile`` (by default
    docker/<part>.Dockerfile)."""
    if name not in IMAGES:
        raise ImageBuildError(f"unknown image {name!r}; the images are: {', '.join(IMAGES)}")
    path = dockerfile or DOCKER / f"{name.removeprefix('gpu-')}.Dockerfile"
    steps = instructions(path)
    starts = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    if len(starts) < 2:
        raise ImageBuildError(f"{path.name}: expected a build stage and a runtime stage")
    build, final = steps[starts[0] : starts[-1]], steps[starts[-1] :]
    packages = tuple(
        rest.split()[0].rstrip("/")
        for keyword, rest in build
        if keyword == "COPY" and (ROOT / rest.split()[0].rstrip("/") / "__init__.py").is_file()
    )
    installs = [
        word
        for keyword, rest in build
        if keyword == "RUN" and "pip install" in rest
        for word in shlex.split(rest.split("pip install", 1)[1].split("&&")[0])
        if word.startswith(".")
    ]
    if len(installs) != 1:
        raise ImageBuildError(f"{path.name}: expected one `pip install .[extras]`, got {installs}")
    env: dict[str, str] = {"PATH": DEFAULT_PATH}
    values: dict[str, tuple[str, ...]] = {}
    ports: list[str] = []
    for keyword, rest in final:
        if keyword == "ENV":
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                env[key] = value.replace("$PATH", env["PATH"]).replace("${PATH}", env["PATH"])
        elif keyword in ("ENTRYPOINT", "CMD", "VOLUME"):
            values[keyword] = _json_list(path, keyword, rest)
        elif keyword == "USER":
            values[keyword] = (rest,)
        elif keyword == "EXPOSE":
            ports += [port if "/" in port else f"{port}/tcp" for port in rest.split()]
    user = values.get("USER", ("0",))[0]
    if not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", user):
        raise ImageBuildError(
            f"{path.name}: USER must be a numeric non-root uid[:gid], not {user!r}"
        )
    return ImageSpec(
        name=name,
        dockerfile=path,
        packages=packages,
        install=installs[0],
        entrypoint=values.get("ENTRYPOINT", ()),
        cmd=values.get("CMD", ()),
        user=user,
        env=tuple(env.items()),
        exposed_ports=tuple(ports),
        volumes=values.get("VOLUME", ()),
    )


# -- helpers ---------------------------------------------------------------------------------


def run(command: Sequence[str | Path], **kwargs: Any) -> None:
    """Run ``command``; a failure raises with its output's tail."""
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise ImageBuildError(
            f"{shlex.join(map(str, command))} exited {result.returncode}:\n{tail}"
        )


def digest_of(*parts: bytes | str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\0")
    return hasher.hexdigest()


def tree_digest(paths: Sequence[Path]) -> str:
    """A digest of the files under ``paths`` (names and contents; caches and bytecode skipped)."""
    hasher = hashlib.sha256()
    for top in paths:
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                hasher.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return hasher.hexdigest()


def source_date_epoch(paths: Sequence[Path] = ()) -> int:
    """SOURCE_DATE_EPOCH, or the time of the last commit that changed ``paths`` (default: of the
    checked-out commit): a layer's times then change only when its inputs do, and its cached
    copy survives unrelated commits."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    result = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%ct", "--", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else 0


def git_revision() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def git_source() -> str:
    """IMAGE_SOURCE, else the checkout's origin URL, else empty (the label is then left out)."""
    if os.environ.get("IMAGE_SOURCE"):
        return os.environ["IMAGE_SOURCE"]
    result = subprocess.run(
        ["git", "-C", str(ROOT), "config", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


def reproducible_tar(directory: Path, members: Sequence[str], output: Path, epoch: int) -> None:
    """GNU tar of ``members`` of ``directory``: name order, one mtime, numeric owners, no atime."""
    run(
        [
            "tar",
            "--create",
            "--file",
            output,
            "--directory",
            directory,
            "--sort=name",
            f"--mtime=@{epoch}",
            "--numeric-owner",
            "--format=posix",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            *members,
        ]
    )


# -- stage 0: the Debian base ----------------------------------------------------------------


@dataclass(frozen=True)
class DebianSource:
    """Where the base's packages come from; a snapshot mirror pins them to one day."""

    mirror: str
    security_mirror: str
    suite: str = DEBIAN_SUITE

    @classmethod
    def from_environ(cls) -> DebianSource:
        return cls(
            os.environ.get("IMAGES_DEBIAN_MIRROR", DEBIAN_MIRROR),
            os.environ.get("IMAGES_DEBIAN_SECURITY_MIRROR", DEBIAN_SECURITY_MIRROR),
        )

    def sources(self) -> list[str]:
        return [
            f"deb {self.mirror} {self.suite} main",
            f"deb {self.mirror} {self.suite}-updates main",
            f"deb {self.security_mirror} {self.suite}-security main",
        ]

    def release_files(self) -> list[str]:
        """The suites' InRelease files: what the archive holds now (the base's real input)."""
        urls = [
            f"{self.mirror}/dists/{self.suite}/InRelease",
            f"{self.mirror}/dists/{self.suite}-updates/InRelease",
            f"{self.security_mirror}/dists/{self.suite}-security/InRelease",
        ]
        texts = []
        for url in urls:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    texts.append(response.read().decode())
            except OSError as exc:
                raise ImageBuildError(f"cannot read {url}: {exc}") from exc
        return texts


def release_epoch(release_texts: Sequence[str]) -> int:
    """The newest `Date:` of the Release files: the base's SOURCE_DATE_EPOCH."""
    dates = [
        email.utils.parsedate_to_datetime(found.group(1)).timestamp()
        for text in release_texts
        if (found := re.search(r"^Date: (.+)$", text, re.MULTILINE))
    ]
    if not dates:
        raise ImageBuildError("the Debian Release files have no Date: field")
    return int(max(dates))


def build_base(cache: Path, source: DebianSource) -> tuple[Path, str]:
    """The base root filesystem tarball (cached by the archive's state) and its cache key."""
    releases = source.release_files()
    key = digest_of(
        *source.sources(),
        *releases,
        *BASE_PACKAGES,
        *BASE_DPKG_OPTIONS,
        "mmdebstrap-essential",
        ARCHIVER.read_text(),
    )[:16]
    tarball = cache / f"base-{key}.tar"
    if tarball.exists():
        return tarball, key
    if not shutil.which("mmdebstrap"):
        raise ImageBuildError(
            "mmdebstrap is not installed: run `bash scripts/bootstrap.sh images` as root"
        )
    partial = tarball.with_suffix(".partial.tar")
    command: list[str | Path] = [
        "mmdebstrap",
        "--mode=root",
        "--variant=essential",
        "--include=" + ",".join(BASE_PACKAGES),
        "--skip=output/dev",
        *[f"--dpkgopt={option}" for option in BASE_DPKG_OPTIONS],
        source.suite,
        partial,
        *source.sources(),
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(release_epoch(releases))}
    print(f"images: base: mmdebstrap {source.suite} ({', '.join(BASE_PACKAGES)})", flush=True)
    run(command, env=env)
    partial.rename(tarball)
    return tarball, key


# -- stage 1: the build stage (wheels, then a venv in a throwaway copy of the base) ---------


def project_wheel(spec: ImageSpec, wheels: Path, epoch: int) -> Path:
    """The project's wheel holding only the packages the Dockerfile copies; its zip entries
    dated ``epoch`` (the wheel's hash is recorded in the venv: it must not vary)."""
    with tempfile.TemporaryDirectory(prefix="images-src-") as tmp:
        src = Path(tmp)
        for name in ("pyproject.toml", "README.md", "VERSION"):
            shutil.copy2(ROOT / name, src / name)
        for package in spec.packages:
            shutil.copytree(
                ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        out = Path(tmp) / "wheel"
        run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, src],
            env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)},
        )
        (built,) = out.glob("*.whl")
        target = wheels / built.name
        shutil.move(built, target)
        return target


def fetch_locked(lock: Path, wheels: Path) -> None:
    """The wheels of ``lock`` into ``wheels``, each checked against its hash."""
    if not lock.is_file():
        raise ImageBuildError(f"{lock} is missing: run `scripts/images.py lock`")
    run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--require-hashes"),
            *("--requirement", lock, "--wheel-dir", wheels),
        ]
    )


def pinned_wheels(spec: ImageSpec, wheels: Path) -> Path:
    """The lock's wheels into ``wheels``; returns a pins file without hashes, for the install."""
    fetch_locked(spec.lock, wheels)
    pins = wheels / f"{spec.name}.pins.txt"
    pins.write_text("".join(f"{name}=={version}\n" for name, version in read_lock(spec.lock)))
    return pins


def read_lock(path: Path) -> list[tuple[str, str]]:
    return re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", path.read_text(), re.MULTILINE)


@contextlib.contextmanager
def build_root(base: Path) -> Iterator[Path]:
    """A throwaway copy of the base: the build stage's file system."""
    with tempfile.TemporaryDirectory(prefix="images-build-", dir=base.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        rootfs.mkdir()
        run(["tar", "--extract", "--file", base, "--directory", rootfs, "--numeric-owner"])
        yield rootfs


def in_chroot(rootfs: Path, script: str, binds: dict[str, Path]) -> None:
    """Run ``script`` (sh) in ``rootfs`` with host ``binds`` mounted read-only, in a private
    mount namespace: the mounts vanish with it, whatever happens."""
    mounts = [
        'mkdir -p "$ROOTFS/proc" "$ROOTFS/dev"',
        'mount -t proc proc "$ROOTFS/proc"',
        'mount --rbind /dev "$ROOTFS/dev"',
    ]
    for target, host in binds.items():
        mounts.append(
            f'mkdir -p "$ROOTFS{target}" && mount --bind {shlex.quote(str(host))} "$ROOTFS{target}"'
        )
        mounts.append(f'mount -o remount,bind,ro "$ROOTFS{target}"')
    outer = " && ".join(
        [*mounts, f'chroot "$ROOTFS" {CHROOT_ENV} /bin/sh -euc {shlex.quote(script)}']
    )
    run(
        ["unshare", "--mount", "--fork", "sh", "-euc", outer],
        env={**os.environ, "ROOTFS": str(rootfs)},
    )


def build_app_layer(spec: ImageSpec, base: Path, cache: Path, key: str, epoch: int) -> Path:
    """The application layer (the venv, the user, the data directories), cached by ``key``."""
    layer = cache / f"{spec.name}-{key}.tar"
    if layer.exists():
        return layer
    print(f"images: {spec.name}: wheels and venv ({spec.install})", flush=True)
    with tempfile.TemporaryDirectory(prefix="images-wheels-", dir=cache) as tmp:
        wheels = Path(tmp)
        pins = pinned_wheels(spec, wheels / "wheels")
        wheel = project_wheel(spec, wheels / "wheels", epoch)
        # The build stage's pip runs from its wheel, mounted in: it never enters the image.
        fetch_locked(PIP_LOCK, wheels / "pip")
        (pip_wheel,) = (wheels / "pip").glob("pip-*.whl")
        pip = f"{VENV}/bin/python /build/pip/{pip_wheel.name}/pip"

        uid, gid = spec.uid_gid
        user = spec.name
        script = "\n".join(
            [
                f"python3 -m venv --without-pip {VENV}",
                f"{pip} install --quiet --no-index --no-deps"
                " --find-links /build/wheels"
                f" --no-cache-dir --no-compile --disable-pip-version-check"
                f" --requirement /build/wheels/{pins.name} '/build/wheels/{wheel.name}[{spec.extras}]'",
                # Every requirement of every installed distribution is satisfied (--no-deps above).
                f"{pip} check --disable-pip-version-check",
                # Bytecode checked by hash, not by mtime: valid whatever times the layer carries.
                # (lib, not the venv: its lib64 is a link to lib, and two workers would race.)
                f"{VENV}/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash"
                f" {VENV}/lib",
                f"echo '{user}:x:{gid}:' >> /etc/group",
                f"echo '{user}:x:{uid}:{gid}::/nonexistent:/usr/sbin/nologin' >> /etc/passwd",
                *[f"install -d -o {uid} -g {gid} -m 0750 {volume}" for volume in spec.volumes],
            ]
        )
        with build_root(base) as rootfs:
            in_chroot(
                rootfs,
                script,
                {"/build/wheels": wheels / "wheels", "/build/pip": wheels / "pip"},
            )
            members = ["etc/group", "etc/passwd", VENV.lstrip("/")]
            members += [volume.lstrip("/") for volume in spec.volumes]
            partial = layer.with_suffix(".partial.tar")
            reproducible_tar(rootfs, members, partial, epoch)
            partial.rename(layer)
    return layer


# -- stage 2: the image config (the archive: oci_archive.py) -----------------------------------


def labels(spec: ImageSpec, source: str) -> dict[str, str]:
    """The org.opencontainers.image.* labels (an empty source is left out)."""
    found = {
        "org.opencontainers.image.title": spec.name,
        "org.opencontainers.image.version": project_version(),
        "org.opencontainers.image.revision": git_revision(),
        "org.opencontainers.image.licenses": project_license(),
        "org.opencontainers.image.source": source,
    }
    return {key: value for key, value in found.items() if value}


def image_config(spec: ImageSpec, epoch: int, source: str) -> dict[str, Any]:
    """The image's config (oci_archive adds `rootfs`), all from its Dockerfile but the labels."""
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config: dict[str, Any] = {
        "User": spec.user,
        "Env": [f"{key}={value}" for key, value in spec.env],
        "Entrypoint": list(spec.entrypoint),
        "Labels": {**labels(spec, source), "org.opencontainers.image.created": created},
    }
    if spec.cmd:
        config["Cmd"] = list(spec.cmd)
    if spec.exposed_ports:
        config["ExposedPorts"] = {port: {} for port in spec.exposed_ports}
    if spec.volumes:
        config["Volumes"] = {volume: {} for volume in spec.volumes}
    return {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "history": [
            {"created": created, "created_by": f"mmdebstrap {DEBIAN_SUITE} (scripts/images.py)"},
            {"created": created, "created_by": f"pip install {spec.install} (scripts/images.py)"},
        ],
    }


# -- the commands ----------------------------------------------------------------------------


def build(names: Sequence[str], out: Path, cache: Path, source: str) -> list[Path]:
    """Build the images ``names`` into ``out``/<name>.oci.tar, reusing layers cached in ``cache``."""
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building the images needs root (mmdebstrap, chroot): sudo make images"
        )
    cache.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for leftover in cache.glob("*.partial*"):  # of an interrupted build
        leftover.unlink()
    for leftover in cache.glob("images-*"):  # its build stages (their mounts died with it)
        shutil.rmtree(leftover)
    epoch = source_date_epoch()
    base, base_key = build_base(cache, DebianSource.from_environ())
    prune(cache, "base-", keep=base.name.removesuffix(".tar"))
    archives = []
    for name in names:
        spec = read_spec(name)
        inputs = [
            ROOT / "pyproject.toml",
            ROOT / "README.md",
            Path(__file__),
            ARCHIVER,
            spec.dockerfile,
        ]
        inputs += [spec.lock, PIP_LOCK, *(ROOT / package for package in spec.packages)]
        layer_epoch = source_date_epoch(inputs)
        key = digest_of(
            base_key,
            str(layer_epoch),
            repr(dataclasses.replace(spec, dockerfile=Path(spec.dockerfile.name))),
            tree_digest(inputs),
        )[:16]
        layer = build_app_layer(spec, base, cache, key, layer_epoch)
        prune(cache, f"{name}-", keep=layer.name.removesuffix(".tar"))
        output = out / f"{name}.oci.tar"
        oci_archive.write_archive(
            [base, layer],
            image_config(spec, epoch, source),
            f"{name}:{project_version()}",
            output,
            epoch,
        )
        print(f"images: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
        archives.append(output)
    return archives


def freeze_all(python: Path) -> str:
    """`pip freeze --all` of the interpreter ``python`` (pip itself included)."""
    return subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def prune(cache: Path, prefix: str, keep: str) -> None:
    """Cached layers named ``prefix``* other than ``keep`` (and its compressed copy) go: a cache
    holds the newest layer of each kind."""
    for path in cache.glob(f"{prefix}*"):
        if path.is_file() and path.name.split(".", 1)[0] != keep:
            path.unlink()


def lock(venv: Path) -> None:
    """docker/<image>.lock.txt: the extra's resolution, pinned to the versions installed in
    ``venv`` (its `pip freeze`), with each wheel's sha256."""
    python = venv / "bin" / "python"
    freeze = freeze_all(python)
    with tempfile.TemporaryDirectory(prefix="images-lock-") as tmp:
        pip_version = re.findall(r"^pip==(\S+)$", freeze, re.MULTILINE)
        if len(pip_version) != 1:
            raise ImageBuildError(f"{venv} has no pip")
        run(
            [
                *(python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"),
                *("--dest", tmp, f"pip=={pip_version[0]}"),
            ]
        )
        (pip_wheel,) = Path(tmp).glob("pip-*.whl")
        PIP_LOCK.write_text(
            "# The pip that installs the images' venvs in scripts/images.py's build stage (it is\n"
            "# not in the images): the development venv's. Generated by `scripts/images.py lock`.\n"
            f"pip=={pip_version[0]} \\\n"
            f"    --hash=sha256:{hashlib.sha256(pip_wheel.read_bytes()).hexdigest()}\n"
        )
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(freeze)
        for name in IMAGES:
            spec = read_spec(name)
            report = Path(tmp) / f"{name}.json"
            run(
                [
                    *(python, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed"),
                    *("--only-binary=:all:", "--report", report, "--constraint", constraints),
                    f"{ROOT}[{spec.extras}]",
                ]
            )
            lines = []
            for item in json.loads(report.read_text())["install"]:
                archive = item["download_info"].get("archive_info")
                if archive is None:  # the project itself, from the checkout
                    continue
                sha256 = archive.get("hashes", {}).get("sha256") or archive["hash"].split("=", 1)[1]
                lines.append(
                    f"{item['metadata']['name'].lower()}=={item['metadata']['version']} \\\n    --hash=sha256:{sha256}\n"
                )
            header = (
                f"# {spec.name}: the `{spec.extras}` extra's wheels for CPython 3.11 on x86_64 Linux,\n"
                "# at the versions of the development venv. Generated by `scripts/images.py lock`;\n"
                f"# installed with --require-hashes by scripts/images.py and {spec.dockerfile.name}.\n"
            )
            spec.lock.write_text(header + "".join(sorted(lines)))
            print(f"images: {spec.lock.relative_to(ROOT)}: {len(lines)} pins")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/images.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the images as OCI archives")
    build_parser.add_argument(
        "--only", choices=IMAGES, action="append", help="one image (repeatable)"
    )
    build_parser.add_argument(
        "--out", type=Path, default=OUT, help="output directory (build/images)"
    )
    build_parser.add_argument(
        "--cache", type=Path, default=OUT / "cache", help="layer cache (build/images/cache)"
    )
    build_parser.add_argument(
        "--source",
        default=None,
        help="org.opencontainers.image.source (IMAGE_SOURCE; origin's URL)",
    )
    lock_parser = commands.add_parser("lock", help="regenerate docker/*.lock.txt from a venv")
    lock_parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    commands.add_parser("version", help="print the version the images are tagged with")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            source = args.source if args.source is not None else git_source()
            build(args.only or IMAGES, args.out.resolve(), args.cache.resolve(), source)
        elif args.command == "lock":
            lock(args.venv)
        else:
            print(project_version())
    except ImageBuildError as exc:
        print(f"images: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
