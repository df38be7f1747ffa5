#!/usr/bin/env bash
# Install what the demo and the tests need on a fresh Debian machine (run as root, or with sudo):
# Python's venv module and Debian's Prometheus server and promtool. Idempotent: a machine that
# already has them installs nothing.
set -euo pipefail

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v curl >/dev/null 2>&1 || need+=(curl)

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
fi
