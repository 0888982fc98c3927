#!/usr/bin/env bash
# Make `prometheus` and `promtool` available for the scrape tests: Debian's `prometheus` package, installed
# with apt only when either command is missing (a no-op afterwards). Needs root, or sudo without a password.
# The tests run their own Prometheus (temporary config and data directory, a free port) and stop it by PID;
# they never use the system service. Where the package's service does start (a machine running systemd),
# it listens on :9090 and does not get in the way.
#
#   bash scripts/prometheus/provision.sh          install if missing, print versions
#
# Exit status: 0 when both commands are there afterwards, 1 otherwise (with the reason on stderr).
set -euo pipefail

say() { echo "[prometheus] $*" >&2; }

have() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

if have; then
  say "present: $(prometheus --version 2>&1 | head -n 1)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  say "prometheus/promtool missing and there is no apt-get here: install Prometheus 2.x (with promtool) and put both on PATH"
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    say "prometheus/promtool missing and installing them needs root: run 'sudo apt-get install -y --no-install-recommends prometheus'"
    exit 1
  fi
fi

start=$(date +%s)
say "installing Debian's prometheus package (apt-get update + install)"
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg run instead of failing on its lock.
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends prometheus >/dev/null
if ! have; then
  say "apt-get finished but prometheus/promtool are still not on PATH"
  exit 1
fi
say "installed in $(($(date +%s) - start)) s: $(prometheus --version 2>&1 | head -n 1)"
