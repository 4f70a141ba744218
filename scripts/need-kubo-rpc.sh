#!/usr/bin/env bash
# Installs a daemon that speaks the Kubo RPC API, for the Kubo-backend tests (issue #6): Kubo itself
# cannot be installed from the npm or Debian registries (its npm package downloads a binary from
# GitHub), so the tests use js-ipfs 0.66.1, the former JavaScript reference implementation, which
# serves the same RPC (docs/ipfs-research.md). It is large (≈1000 packages, ≈300 MB, ≈3 min), so it
# lives outside the project, in a versioned cache directory, and is installed once (idempotent).
# Prints the path of the `jsipfs` binary. Exit 0 with nothing printed when it cannot be installed
# (no registry): the Kubo tests then report themselves SKIPPED with the reason.
# Set CAPSULE_KUBO_RPC=0 to skip it, or KUBO_RPC_URL to test against a running daemon instead.
# `--check` installs nothing (what the tests run: `npm test` never installs; `npm run setup` does):
# the path when installed, else nothing on stdout and the reason, naming `npm run setup`, on stderr.
set -uo pipefail
[[ "${CAPSULE_KUBO_RPC:-1}" == "0" || -n "${KUBO_RPC_URL:-}" ]] && exit 0
VERSION=0.66.1
dir="${XDG_CACHE_HOME:-$HOME/.cache}/capsule-engine/js-ipfs-$VERSION"
bin="$dir/node_modules/.bin/jsipfs"
if [[ -x "$bin" && -f "$dir/.complete" ]]; then echo "$bin"; exit 0; fi
if [[ "${1:-}" == "--check" ]]; then
  echo "need-kubo-rpc: js-ipfs $VERSION is not installed in $dir: run \`npm run setup\` (once, ≈3 min)" >&2
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [[ ! -f "$dir/.complete" ]]; then
  echo "need-kubo-rpc: installing js-ipfs $VERSION (a Kubo-RPC daemon for the tests) into $dir, once (≈3 min)" >&2
  cd "$dir" || exit 0
  [[ -f package.json ]] || printf '{ "name": "capsule-test-kubo-rpc", "private": true }\n' > package.json
  # Its install scripts (protobufjs, classic-level…) are not needed: classic-level ships a prebuild.
  if npm install --no-audit --no-fund --ignore-scripts --omit=peer --save-exact "ipfs@$VERSION" >"$dir/install.log" 2>&1; then
    touch "$dir/.complete"
  else
    echo "need-kubo-rpc: could not install js-ipfs (see $dir/install.log); the Kubo tests will be SKIPPED" >&2
    exit 0
  fi
fi
echo "$bin"
