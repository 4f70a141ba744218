#!/usr/bin/env bash
# Builds native/build/libzk_sim.so (the Zymbit C API simulator). Idempotent; silent on success.
# Ensures gcc, make and libssl-dev (OpenSSL 3 headers) are installed via apt-get (runs as root).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y "$@" >>"$log" 2>&1; then
    if ! { apt-get update >>"$log" 2>&1 && apt-get install -y "$@" >>"$log" 2>&1; }; then
      cat "$log" >&2
      echo "build.sh: failed to install: $*" >&2
      exit 1
    fi
  fi
}

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

if ! make -s --no-print-directory -C "$here" >"$log" 2>&1; then
  cat "$log" >&2
  echo "build.sh: make failed" >&2
  exit 1
fi
