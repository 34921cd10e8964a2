#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages given as arguments when they are not installed yet.
# Usage: scripts/apt-ensure.sh chromium wrk ...
# Runs apt-get through sudo when not root (GitHub's Ubuntu runners), refreshes the package lists
# at most once per call (and not when they are less than an hour old), and fails with a clear
# message where there is no apt (e.g. macOS): install the packages some other way there.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "scripts/apt-ensure.sh: apt-get/dpkg not found (not Debian or Ubuntu)." >&2
  echo "Install these packages (or their equivalents) yourself: $*" >&2
  exit 1
fi

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "scripts/apt-ensure.sh: missing packages ${missing[*]}; not root and no password-less sudo." >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
update() {
  local log
  log=$(mktemp)
  if ! "${apt[@]}" update -qq >"$log" 2>&1; then
    # A broken third-party source need not stop the install; show what went wrong.
    echo "scripts/apt-ensure.sh: apt-get update reported errors:" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
}

echo "apt-get install: ${missing[*]}"
updated=0
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -60 2>/dev/null | head -1)" ]; then
  update
  updated=1
fi
if ! "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  [ "$updated" -eq 1 ] && exit 1
  # The lists were recent but may lack the package (or a newer version): refresh once and retry.
  update
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
