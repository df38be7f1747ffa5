#!/usr/bin/env bash
# Build docker/exporter.Dockerfile and docker/analytics.Dockerfile with a real Dockerfile builder
# (buildah, from Debian) and run each image once, without a container registry.
#
# `make images` (scripts/images.py) only reads the Dockerfiles; this builds them as
# `docker build` would. python:3.11-slim-bookworm cannot be pulled here, so a stand-in made by
# mmdebstrap takes its place (--build-arg PYTHON_IMAGE): Debian 12's Python 3.11 as `python`,
# with venv and pip, ca-certificates, passwd (groupadd, useradd), tzdata and netbase, as the
# official image offers them. The host's own CAs (/usr/local/share/ca-certificates) are added
# to it, so pip reaches PyPI through a TLS-intercepting proxy the host trusts.
#
# Then, for each image: the entry point with --help answers as the Dockerfile's USER (uid and
# gid checked), and the venv holds no pip, setuptools or wheel and no stale bytecode, as
# `make images` builds it; the analytics image also runs its entry point and command (gunicorn,
# on a free loopback port) until its health answers UP, its database migrated in its data
# directory as that user.
#
# Needs root, buildah and mmdebstrap (apt-get install buildah mmdebstrap), Debian's archive and
# PyPI. Idempotent: buildah keeps its own store under the work directory (vfs driver, chroot
# isolation: no overlay mounts or user namespaces needed) and the stand-in base is made once.
# Not part of `make test` (a few minutes). Usage:
#
#   sudo scripts/dockerfile_check.sh [exporter|analytics ...]
#
# DOCKERFILE_CHECK_DIR: the work directory (default build/dockerfile-check);
# DOCKERFILE_CHECK_REBUILD_BASE=1 makes the stand-in base again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${DOCKERFILE_CHECK_DIR:-$root/build/dockerfile-check}"
base_image="localhost/dockerfile-check-python:3.11-slim-bookworm"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(exporter analytics)

say() { printf 'dockerfile-check: %s\n' "$*"; }
fail() {
  printf 'dockerfile-check: FAILED: %s\n' "$*" >&2
  exit 1
}

for name in "${names[@]}"; do
  [ -f "$root/docker/$name.Dockerfile" ] || fail "no docker/$name.Dockerfile (the images: exporter, analytics)"
done
[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap, buildah): sudo $0"
for tool in buildah mmdebstrap python3; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed: apt-get install buildah mmdebstrap"
done

mkdir -p "$work"
bah() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
containers=()
cleanup() {
  for ctr in "${containers[@]}"; do bah rm "$ctr" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# -- the stand-in for python:3.11-slim-bookworm ----------------------------------------------
tarball="$work/python-standin.tar"
if [ "${DOCKERFILE_CHECK_REBUILD_BASE:-0}" = 1 ]; then
  rm -f "$tarball"
  bah rmi --force "$base_image" >/dev/null 2>&1 || true
fi
if [ ! -f "$tarball" ]; then
  say "stand-in base: mmdebstrap bookworm (minbase, python3, python3-venv, python3-pip)"
  hooks=()
  # shellcheck disable=SC2016 # "$1" is the hooks' (mmdebstrap's root directory)
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    say "stand-in base: adding the host's CAs from /usr/local/share/ca-certificates"
    hooks+=(--customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"')
    hooks+=(--customize-hook='chroot "$1" update-ca-certificates')
  fi
  start=$SECONDS
  rm -f "$work/python-standin.partial.tar"
  mmdebstrap --mode=root --variant=minbase --format=tar --quiet \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates,netbase,tzdata \
    --skip=output/dev \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "${hooks[@]}" bookworm "$work/python-standin.partial.tar" ||
    fail "mmdebstrap could not make the stand-in base (is deb.debian.org reachable?)"
  mv "$work/python-standin.partial.tar" "$tarball"
  bah rmi --force "$base_image" >/dev/null 2>&1 || true
  say "stand-in base: made in $((SECONDS - start)) s"
fi
if ! bah inspect --type image "$base_image" >/dev/null 2>&1; then
  ctr="$(bah from scratch)"
  containers+=("$ctr")
  bah add --quiet "$ctr" "$tarball" /
  # The official image's PATH and locale; its CMD is python3.
  bah config --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd '["python3"]' "$ctr"
  bah commit --quiet --rm "$ctr" "$base_image" >/dev/null
  containers=()
  say "stand-in base: imported as $base_image, $(bah images --format '{{.Size}}' "$base_image")"
fi

# -- build and run each image ----------------------------------------------------------------
version="$(python3 "$root/scripts/images.py" version)"
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
for name in "${names[@]}"; do
  image="localhost/gpu-$name:dockerfile-check"
  dockerfile="$root/docker/$name.Dockerfile"
  log="$work/$name.build.log"
  say "gpu-$name: buildah bud -f docker/$name.Dockerfile (log: $log)"
  bah rmi --force "$image" >/dev/null 2>&1 || true
  start=$SECONDS
  if ! bah bud --isolation chroot --layers=false --pull=false \
    --build-arg PYTHON_IMAGE="$base_image" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -f "$dockerfile" -t "$image" "$root" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "gpu-$name: the build failed (the whole log: $log)"
  fi
  say "gpu-$name: built in $((SECONDS - start)) s, $(bah images --format '{{.Size}}' "$image")"

  # The USER of the Dockerfile's final stage, and what the image's config says.
  want_user="$(grep -E '^USER ' "$dockerfile" | tail -n 1 | cut -d' ' -f2)"
  # The image's config (buildah inspect: JSON, OCIv1.config): its user, then its entry point.
  mapfile -t config < <(bah inspect --type image "$image" | python3 -c '
import json, sys
config = json.load(sys.stdin)["OCIv1"]["config"]
print(config.get("User", ""))
print("\n".join(config.get("Entrypoint") or []))')
  got_user="${config[0]:-}"
  entrypoint=("${config[@]:1}")
  [ "$got_user" = "$want_user" ] || fail "gpu-$name: the image's user is '$got_user', not '$want_user'"
  [ "${want_user%%:*}" != 0 ] || fail "gpu-$name: the image runs as root"
  [ ${#entrypoint[@]} -gt 0 ] || fail "gpu-$name: the image has no entry point"

  ctr="$(bah from --pull=false --quiet "$image")"
  containers+=("$ctr")
  # buildah run: the image's user, environment and working directory (not its entry point).
  # shellcheck disable=SC2016 # expanded by the container's shell
  ids="$(bah run --isolation chroot "$ctr" -- sh -c 'echo "$(id -u):$(id -g)"')" ||
    fail "gpu-$name: buildah run could not start a shell in the image"
  [ "$ids" = "$want_user" ] || fail "gpu-$name: runs as $ids, not $want_user"
  if ! help="$(bah run --isolation chroot "$ctr" -- "${entrypoint[@]}" --help 2>&1)" ||
    ! grep -q '^usage: ' <<<"$help"; then
    printf '%s\n' "$help" >&2
    fail "gpu-$name: '${entrypoint[*]} --help' failed"
  fi
  say "gpu-$name: '${entrypoint[*]} --help' answers as uid:gid $ids"
  # The venv as `make images` builds it: no build tools, and no stale bytecode (a .pyc whose
  # recorded source mtime and size no longer match is recompiled at every start).
  venv="$(bah run --isolation chroot "$ctr" -- python -c '
import importlib.metadata, importlib.util, os, struct, sysconfig
names = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
tools = sorted(names & {"pip", "setuptools", "wheel"})
compiled = stale = 0
for top, _, files in os.walk(sysconfig.get_paths()["purelib"]):
    for name in files:
        source = os.path.join(top, name)
        cached = importlib.util.cache_from_source(source) if name.endswith(".py") else ""
        if not os.path.exists(cached):
            continue
        compiled += 1
        with open(cached, "rb") as handle:
            header = handle.read(16)
        if struct.unpack("<I", header[4:8])[0] == 0:  # checked by mtime and size (PEP 552)
            st = os.stat(source)
            stale += struct.unpack("<II", header[8:16]) != (
                int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)
print(" ".join(tools) or "-", compiled, stale)')" ||
    fail "gpu-$name: python could not inspect the venv"
  read -r tools compiled stale <<<"$venv"
  [ "$tools" = - ] || fail "gpu-$name: the venv holds build tools: $tools"
  [ "$compiled" -gt 0 ] || fail "gpu-$name: the venv holds no bytecode"
  [ "$stale" = 0 ] || fail "gpu-$name: $stale of $compiled .pyc files are stale (source mtime changed)"
  say "gpu-$name: the venv holds no pip, setuptools or wheel; $compiled .pyc files, none stale"
  if [ "$name" = analytics ]; then
    # The image's entry point and command (bound to a free loopback port): gunicorn migrates
    # the database in the data directory (the volume, the user's) and answers its health.
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    mapfile -t serve < <(bah inspect --type image "$image" | python3 -c '
import json, sys
config = json.load(sys.stdin)["OCIv1"]["config"]
command = config["Entrypoint"] + config["Cmd"]
command[command.index("--bind") + 1] = "127.0.0.1:" + sys.argv[1]
print("\n".join(command))' "$port")
    probe='import json, sys, time, urllib.request
deadline = time.monotonic() + 90
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as answer:
            health = json.load(answer)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
assert health["status"] == "UP", health
assert health["components"]["migrations"]["status"] == "UP", health'
    # shellcheck disable=SC2016 # expanded by the container's shell
    out="$(bah run --isolation chroot "$ctr" -- sh -c '
      port=$1 probe=$2; shift 2
      cd /tmp
      "$@" >/tmp/serve.log 2>&1 &
      server=$!
      python -c "$probe" "http://127.0.0.1:$port/k8s-monitor/api/actuator/health"
      status=$?
      kill -TERM "$server" && wait "$server" || true
      test -s "$GPU_ANALYTICS_DATA_DIR/analytics.db" || status=1
      [ "$status" = 0 ] || cat /tmp/serve.log
      exit "$status"' sh "$port" "$probe" "${serve[@]}" 2>&1)" || {
      printf '%s\n' "$out" >&2
      fail "gpu-analytics: '${serve[*]}' did not answer /k8s-monitor/api/actuator/health UP"
    }
    say "gpu-analytics: '${serve[*]}' answers its health UP, database migrated in \$GPU_ANALYTICS_DATA_DIR as $ids"
  fi
  bah rm "$ctr" >/dev/null
  containers=()
done
say "OK: ${names[*]}"
