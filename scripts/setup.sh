#!/usr/bin/env bash
# `npm run setup`: the machine set-up the tests need, once, idempotently (needs root or sudo for
# apt-get): the Debian packages (scripts/need-debian.sh), the Zymbit simulator library
# (native/build.sh) and js-ipfs, the Kubo-RPC daemon of the Kubo tests (scripts/need-kubo-rpc.sh,
# into ~/.cache, ≈3 min the first time). Each step prints a line when it installs or builds
# something; then one summary line.
# `--check` is what `npm test` runs first (package.json "pretest"): it installs nothing. A missing
# package fails the run at once with one line naming `npm run setup`; the native library is
# rebuilt if its sources changed (a build of this project, like the type-check, not an install).
# js-ipfs is not checked: without it the Kubo suites print SKIPPED lines naming `npm run setup`.
# Deliberately not here: `npm run bench`'s extra packages (GNU time; its own line in package.json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# COMMAND=PACKAGE (need-debian.sh): what the suites run. age: the interoperability tests' peer;
# bubblewrap: the seed process's sandbox; cryptsetup, umoci, skopeo, podman, systemd (systemd-analyze),
# python3 (the sd_notify receiver), initramfs-tools-core: the device suites; swtpm, tpm2-tools and
# libtss2-tcti-swtpm0: the tpm2 backend and its peer; gcc, make, libssl-dev: native/build.sh.
DEBIAN=(
  age=age bwrap=bubblewrap cryptsetup=cryptsetup umoci=umoci skopeo=skopeo podman=podman
  systemd-analyze=systemd python3=python3 mkinitramfs=initramfs-tools-core swtpm=swtpm
  swtpm_setup=swtpm-tools tpm2_rsadecrypt=tpm2-tools libtss2-tcti-swtpm.so.0=libtss2-tcti-swtpm0
  gcc=gcc make=make openssl/evp.h=libssl-dev
)
LIB=native/build/libzk_sim.so

if [[ ${1:-} == --check ]]; then
  if ! missing=$(bash scripts/need-debian.sh --check "${DEBIAN[@]}"); then
    echo "npm test: the machine is not set up (missing Debian packages: $missing): run \`npm run setup\` first (needs root or sudo)" >&2
    exit 1
  fi
  bash native/build.sh || { echo "npm test: could not build $LIB (above): run \`npm run setup\`" >&2; exit 1; }
  exit 0
fi
[[ -z ${1:-} ]] || { echo "setup: unknown argument '$1' (only --check)" >&2; exit 1; }

bash scripts/need-debian.sh "${DEBIAN[@]}" # prints "need-debian: installing …" when it does
make -q -s -C native 2>/dev/null || echo "setup: building $LIB (the Zymbit C API simulator)"
bash native/build.sh
kubo=$(bash scripts/need-kubo-rpc.sh) # prints "need-kubo-rpc: installing …" when it does
echo "setup: ready: ${#DEBIAN[@]} Debian packages, $LIB${kubo:+, js-ipfs (${kubo%/node_modules/*})}"
