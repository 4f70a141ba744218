#!/usr/bin/env bash
# Installs Debian packages the tests or benchmarks need, idempotently: each argument is
# COMMAND=PACKAGE, and PACKAGE is installed only when COMMAND is missing (a COMMAND containing
# ".so" names a shared library instead, looked up with ldconfig: the TPM tests' libtss2-* sonames;
# one ending in ".h" names a header under /usr/include: libssl-dev for native/). Run by
# `npm run setup` (scripts/setup.sh: age, the interoperability tests compare with the real age CLI;
# the device, TPM and native-build packages) and before `npm run bench` (age: the peer measured in
# the same run; time: GNU time, the one wrapper for whole-process figures; bubblewrap for the agent
# bench). swtpm, tpm2-tools and the libtss2 libraries: the tpm2 backend's tests.
# `--check` (first argument) installs nothing: it prints the missing packages on stdout and exits 1
# if there are any (what `npm test` runs: a test run never installs).
set -euo pipefail
check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
need=()
for pair in "$@"; do
  what=${pair%%=*}
  if [[ $what == *.so* ]]; then
    ldconfig -p 2>/dev/null | grep -qF "$what " || need+=("${pair#*=}")
  elif [[ $what == *.h ]]; then
    [[ -e /usr/include/$what ]] || need+=("${pair#*=}")
  else
    command -v "$what" >/dev/null 2>&1 || need+=("${pair#*=}")
  fi
done
((${#need[@]})) || exit 0
if ((check)); then echo "${need[*]}"; exit 1; fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "need-debian: please install: ${need[*]} (no root, no sudo)" >&2; exit 1; }
  SUDO=sudo
fi
echo "need-debian: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Try the local package lists first; a fresh machine has none, so update and retry.
$SUDO apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${need[@]}" >/dev/null; }
