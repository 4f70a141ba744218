#!/usr/bin/env bash
# `npm test`: the typecheck, then every suite, with TMPDIR set to a fresh directory that is removed
# at the end (also after a failure or an interrupt): suites remove what they make, and this catches
# what a killed child process or an aborted test could not, so a run leaves the machine as it found it.
set -uo pipefail
root=$(mktemp -d "${TMPDIR:-/tmp}/capsule-test.XXXXXX")
cleanup() {
  # A suite killed half-way may leave a tmpfs it mounted (the full-disk tests): unmount before removing.
  grep -o " $root[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount "$m" 2>/dev/null; done
  rm -rf "$root"
}
trap cleanup EXIT
export TMPDIR="$root"
tsc -p tsconfig.json --noEmit && uvu test "\.test\.ts$"
