#!/usr/bin/env bash
# Installs the peers the benchmarks compare against, idempotently (runs before `npm run bench`):
# the `age` CLI (Debian package `age`).
set -euo pipefail
need=()
command -v age >/dev/null 2>&1 || need+=(age)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup-bench: need Debian packages: ${need[*]} (run as root or install them)" >&2
    exit 1
  fi
  SUDO=$([[ $(id -u) -eq 0 ]] && echo "" || echo sudo)
  echo "setup-bench: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${need[@]}" >/dev/null; }
fi
