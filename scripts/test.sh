#!/usr/bin/env bash
# `npm test`: the typecheck, then every suite, with TMPDIR set to a fresh directory that is removed
# at the end (also after a failure or an interrupt): suites remove what they make, and this catches
# what a killed child process or an aborted test could not, so a run leaves the machine as it found it.
# The listings of that directory and of the system's temporary directory are written before the
# suites, outside TMPDIR (CAPSULE_TEST_TMPDIR_START, CAPSULE_TEST_SYSTMP_START, and /dev/shm's in CAPSULE_TEST_SHM_START); after them,
# test/zz-tempdir-clean.test.ts fails the run, naming the leftovers, if a suite left anything. It
# runs in a process of its own, after the suites' process has exited: some helpers remove what
# they made in an exit handler (test/helpers/guardianDevice.ts), which counts as cleaned up.
# Deliberately no set-up here: `npm run setup` installs, the pretest only checks (scripts/setup.sh).
set -uo pipefail
systmp=${TMPDIR:-/tmp}
root=$(mktemp -d "$systmp/capsule-test.XXXXXX")
cleanup() {
  # A suite killed half-way may leave a tmpfs it mounted (the full-disk tests): unmount before removing.
  grep -o " $root[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount "$m" 2>/dev/null; done
  rm -rf "$root"
}
trap cleanup EXIT
mkdir "$root/tmp"
ls -A "$root/tmp" >"$root/tmp-at-start"
ls -A "$systmp" >"$root/systmp-at-start"
ls -A /dev/shm >"$root/shm-at-start" 2>/dev/null
# Built policies are cached per run here, not in the user's ~/.cache (agent/logic/BuildCache.ts).
export CAPSULE_BUILD_CACHE="$root/build-cache"
export TMPDIR="$root/tmp" CAPSULE_TEST_TMPDIR_START="$root/tmp-at-start" CAPSULE_TEST_SYSTMP_START="$root/systmp-at-start"
export CAPSULE_TEST_SHM_START="$root/shm-at-start"
# The formatter and linter over the whole tree (biome.json; `npm run format` fixes what it can).
biome check . || { echo 'npm test: biome check failed: run npm run format' >&2; exit 1; }
# tsc (TypeScript 5.9) turns V8's compile cache on, in TMPDIR by default: not a suite's leftover.
NODE_DISABLE_COMPILE_CACHE=1 tsc -p tsconfig.json --noEmit || exit 1
uvu test "\.test\.ts$" --ignore "zz-tempdir-clean"
suites=$?
uvu test "^zz-tempdir-clean\.test\.ts$"
clean=$?
((suites == 0 && clean == 0))
