#!/usr/bin/env bash
# Install what the demo and the tests need on a fresh Debian machine (run as root, or with sudo):
# Python's venv module and Debian's Prometheus server, promtool and Alertmanager; for the tests
# (`bootstrap.sh test`, what `make test` runs) also PostgreSQL's server and VictoriaMetrics (the
# second metrics backend of the truth tests: victoria-metrics, vmctl, vmalert), the toolchains
# of the Go and Java SDKs' tests (golang-go; a JDK, Jackson, JUnit 5, Maven and its plugins)
# and Node.js with npm (the Makefile installs Redocly's CLI with it, to lint the OpenAPI
# document); for the images (`bootstrap.sh images`, what `make images` runs, and the tests)
# mmdebstrap and skopeo.
# Idempotent: a machine that already has them installs nothing.
set -euo pipefail
purpose="${1:-test}"

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v curl >/dev/null 2>&1 || need+=(curl)
# PostgreSQL's server for the tests on PostgreSQL (devstack/postgres.py); Debian keeps initdb
# and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH.
has_pg() { command -v "$1" >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null; }
if [ "$purpose" = "test" ]; then
  { has_pg initdb && has_pg pg_ctl; } || need+=(postgresql)
  # Redocly's CLI (Makefile: REDOCLY_VERSION) runs on Node.js, installed with npm.
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  # devstack/victoriametrics.py runs all three; Debian's victoria-metrics ships them together.
  for tool in victoria-metrics vmctl vmalert; do
    command -v "$tool" >/dev/null 2>&1 || { need+=(victoria-metrics); break; }
  done
  # The Go SDK's tests (clients/go, examples/go; tests/sdk/test_go_sdk.py): Debian's Go 1.19,
  # standard library only, so nothing is downloaded at build time.
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  # The Java SDK's tests (tests/sdk/test_java_sdk.py): a JDK, Jackson and JUnit 5 from Debian.
  command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
  [ -f /usr/share/java/jackson-databind.jar ] || need+=(libjackson2-databind-java)
  [ -f /usr/share/java/junit-platform-console-standalone.jar ] || need+=(junit5)
  # Its pom.xml built by Maven offline (tests/sdk/test_java_maven.py): Maven and the plugins of
  # the jar lifecycle, from Debian's Maven repository.
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  for plugin in compiler:libmaven-compiler-plugin-java surefire:libsurefire-java \
    resources:libmaven-resources-plugin-java jar:libmaven-jar-plugin-java \
    install:libmaven-install-plugin-java; do
    compgen -G "/usr/share/maven-repo/org/apache/maven/plugins/maven-${plugin%%:*}-plugin/*/*.jar" \
      >/dev/null || need+=("${plugin#*:}")
  done
fi

# `make images` (scripts/images.py): mmdebstrap makes the base from Debian's archive, pip fetches
# the pinned wheels; skopeo pushes the OCI archives (README) and checks them (tests/images).
if [ "$purpose" = "images" ]; then
  need=()  # only these: not the demo's Prometheus
  command -v python3 >/dev/null 2>&1 || need+=(python3)
fi
if [ "$purpose" = "test" ] || [ "$purpose" = "images" ]; then
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "bootstrap: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "bootstrap: installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends: we want the binaries, not node-exporter and friends.
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package may start a system Prometheus on :9090; the demo and tests run their own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  # Likewise the package's own PostgreSQL cluster on :5432; the tests start theirs.
  $sudo systemctl disable --now postgresql >/dev/null 2>&1 || true
  $sudo systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  # And the package's VictoriaMetrics on :8428; the tests start their own.
  $sudo systemctl disable --now victoria-metrics >/dev/null 2>&1 || true
fi
