#!/usr/bin/env bash
# boot/install.sh — step 1 of the first-boot sequence (boot/README.md): puts the guardian's
# system pieces in place on a device, or into a root file system mounted elsewhere (--root DIR,
# e.g. an SD card's root partition, or a throwaway directory in tests).
#
# What it does, each step only when needed (running it twice changes nothing the second time):
#   - the system group and user `capsule` (no login, home /var/lib/capsule), and the device
#     groups the unit names in SupplementaryGroups= (i2c, zymbit, tss), with `capsule` a member
#     (so `runuser -u capsule -- capsule guardian init` reaches the module too);
#   - /opt/capsule (0755 root), /etc/capsule (0750 root:capsule), /var/lib/capsule (0700 capsule);
#   - /etc/systemd/system/capsule-agent.service, /etc/udev/rules.d/60-capsule.rules, and the
#     /usr/local/bin/capsule wrapper;
#   - the initramfs hook and keyscript from boot/initramfs/, when present: hooks/* (or a top-level
#     file named *hook*) to /etc/initramfs-tools/hooks/, scripts/* (or *keyscript*) to
#     /lib/cryptsetup/scripts/ (where crypttab's `keyscript=NAME` finds them).
# Deliberately not here: copying the application into /opt/capsule, enabling or starting units,
# writing /etc/crypttab or cmdline.txt, running update-initramfs, provisioning the guardian —
# those are the later, explicit steps of boot/README.md.
set -euo pipefail
umask 022

ME=install.sh
SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=""
SRC="$SELF_DIR"
USER_NAME=capsule
DEVICE_GROUPS=(i2c zymbit tss)
CHANGED=0

usage() {
  cat <<EOF
usage: boot/install.sh [--root DIR] [--source DIR]

Installs the guardian's system user, directories, systemd unit, udev rule, CLI wrapper and
initramfs hook/keyscript. Idempotent: a second run changes nothing. Prints one line per change.

  --root DIR     install into the root file system at DIR (its etc/passwd and etc/group are
                 edited with useradd/groupadd --prefix; the running system is not touched)
  --source DIR   the boot/ directory to install from (default: this script's directory)
  --help         this text

Must run as root (it creates a system user and sets owners). Next steps: boot/README.md.
EOF
}

die() {
  printf '%s: error: %s\n' "$ME" "$1" >&2
  [[ -n "${2:-}" ]] && printf '%s: hint: %s\n' "$ME" "$2" >&2
  exit 1
}
did() { CHANGED=$((CHANGED + 1)); printf '%s\n' "$*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --root) [[ $# -ge 2 && -n "$2" ]] || die "--root: expected a directory, got nothing" "usage: boot/install.sh [--root DIR]"; ROOT="$2"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; [[ -n "$ROOT" ]] || die "--root: expected a directory, got nothing"; shift ;;
    --source) [[ $# -ge 2 && -n "$2" ]] || die "--source: expected a directory, got nothing"; SRC="$2"; shift 2 ;;
    --source=*) SRC="${1#--source=}"; shift ;;
    *) die "unknown argument: $1" "usage: boot/install.sh [--root DIR] [--source DIR] (see --help)" ;;
  esac
done

[[ "$(id -u)" -eq 0 ]] || die "must run as root (it creates the system user capsule and sets owners), running as uid $(id -u)" "sudo boot/install.sh"
if [[ -n "$ROOT" ]]; then
  [[ -d "$ROOT" ]] || die "--root: expected an existing directory, got $ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [[ "$ROOT" == / ]] && ROOT=""
fi
R="$ROOT" # prefix for every path below ("" on the running system)
if [[ -n "$R" ]]; then
  for f in etc/passwd etc/group; do
    [[ -f "$R/$f" ]] || die "--root: $R/$f not found: expected a root file system" "mount the target's root partition and pass its mount point"
  done
  ACCT=(--prefix "$R")
else
  ACCT=()
fi
[[ -f "$SRC/capsule-agent.service" && -f "$SRC/udev/60-capsule.rules" ]] \
  || die "--source: $SRC has no capsule-agent.service and udev/60-capsule.rules" "run the script from the repository's boot/ directory, or pass --source BOOT_DIR"
for tool in groupadd useradd usermod install cmp; do
  command -v "$tool" >/dev/null || die "$tool not found in PATH" "apt-get install passwd coreutils diffutils"
done

# --- accounts ----------------------------------------------------------------------------
field() { awk -F: -v n="$2" -v f="$3" '$1 == n { print $f; exit }' "$R/etc/$1"; }

ensure_group() {
  if [[ -z "$(field group "$1" 1)" ]]; then
    groupadd "${ACCT[@]}" --system "$1"
    did "created group $1 (gid $(field group "$1" 3))"
  fi
}
ensure_user() {
  if [[ -z "$(field passwd "$USER_NAME" 1)" ]]; then
    useradd "${ACCT[@]}" --system --gid "$USER_NAME" --home-dir /var/lib/capsule --no-create-home \
      --shell /usr/sbin/nologin --comment "Digital Capsule Engine guardian" "$USER_NAME"
    did "created user $USER_NAME (uid $(field passwd "$USER_NAME" 3))"
  fi
}
ensure_member() { # group user
  local members
  members=",$(field group "$1" 4),"
  if [[ "$members" != *",$2,"* ]]; then
    usermod "${ACCT[@]}" -a -G "$1" "$2"
    did "added $2 to group $1"
  fi
}

ensure_group "$USER_NAME"
ensure_user
for g in "${DEVICE_GROUPS[@]}"; do ensure_group "$g"; ensure_member "$g" "$USER_NAME"; done
UID_N=$(field passwd "$USER_NAME" 3)
GID_N=$(field group "$USER_NAME" 3)

# --- directories and files ---------------------------------------------------------------
ensure_dir() { # path mode uid gid
  local p="$R$1"
  if [[ ! -d "$p" ]]; then
    mkdir -p "$p"
    did "created $1/"
  fi
  if [[ "$(stat -c '%a %u %g' "$p")" != "$2 $3 $4" ]]; then
    chown "$3:$4" "$p"
    chmod "$2" "$p"
    did "set $1/ to mode $2, owner $3:$4"
  fi
}
install_file() { # source dest mode (owned by root)
  local d="$R$2"
  if [[ -f "$d" ]] && cmp -s "$1" "$d" && [[ "$(stat -c '%a %u %g' "$d")" == "$3 0 0" ]]; then return 0; fi
  mkdir -p "$(dirname "$d")"
  # Write beside it and rename: a half-written unit or keyscript is never in place.
  install -m "$3" -o 0 -g 0 "$1" "$d.capsule-new"
  mv -f "$d.capsule-new" "$d"
  did "installed $2 (mode $3)"
}

ensure_dir /opt/capsule 755 0 0
ensure_dir /etc/capsule 750 0 "$GID_N"
ensure_dir /var/lib/capsule 700 "$UID_N" "$GID_N"
install_file "$SRC/capsule-agent.service" /etc/systemd/system/capsule-agent.service 644
install_file "$SRC/udev/60-capsule.rules" /etc/udev/rules.d/60-capsule.rules 644

WRAPPER=$(mktemp)
trap 'rm -f "$WRAPPER"' EXIT
cat >"$WRAPPER" <<'EOF'
#!/bin/sh
# The capsule CLI as installed by boot/install.sh (the application lives in /opt/capsule).
exec /opt/capsule/node_modules/.bin/node --disable-warning=ExperimentalWarning /opt/capsule/bin/capsule.js "$@"
EOF
install_file "$WRAPPER" /usr/local/bin/capsule 755

# --- initramfs hook and keyscript (boot/initramfs/; the key comes from `capsule device luks-key`) ---
INITRAMFS=0
initramfs_file() { # source dest
  local before=$CHANGED
  install_file "$1" "$2" 755
  if [[ $CHANGED -ne $before ]]; then INITRAMFS=1; fi
}
if [[ -d "$SRC/initramfs" ]]; then
  shopt -s nullglob
  for f in "$SRC"/initramfs/hooks/*; do [[ -f "$f" ]] && initramfs_file "$f" "/etc/initramfs-tools/hooks/$(basename "$f")"; done
  for f in "$SRC"/initramfs/scripts/*; do [[ -f "$f" ]] && initramfs_file "$f" "/lib/cryptsetup/scripts/$(basename "$f")"; done
  for f in "$SRC"/initramfs/*; do
    [[ -f "$f" ]] || continue
    name=$(basename "$f")
    case "$name" in
      *.md|*.txt|*.example|*.test.*) ;;
      *keyscript*) initramfs_file "$f" "/lib/cryptsetup/scripts/$name" ;;
      *hook*) initramfs_file "$f" "/etc/initramfs-tools/hooks/$name" ;;
      *) printf '%s: warning: %s: neither a hook nor a keyscript by its name; not installed\n' "$ME" "$f" >&2 ;;
    esac
  done
  shopt -u nullglob
fi

# --- the running system only -------------------------------------------------------------
if [[ -z "$R" && $CHANGED -gt 0 && -d /run/systemd/system ]]; then
  systemctl daemon-reload && did "reloaded systemd units"
  if command -v udevadm >/dev/null; then
    udevadm control --reload-rules && udevadm trigger --subsystem-match=i2c-dev --subsystem-match=tpmrm && did "reloaded udev rules"
  fi
fi

if [[ $CHANGED -eq 0 ]]; then
  printf 'nothing to do: %s is already installed\n' "${R:-/}"
else
  printf 'installed into %s (%d changes). Next (boot/README.md): deploy the application to /opt/capsule, then runuser -u capsule -- capsule guardian init\n' "${R:-/}" "$CHANGED"
  [[ $INITRAMFS -eq 1 ]] && printf 'the initramfs hook or keyscript changed: run update-initramfs -u once /etc/crypttab names the keyscript\n'
fi
exit 0
