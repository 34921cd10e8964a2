#!/usr/bin/env bash
# Makes the Debian base image the runtime stage starts from, without any image registry:
# debootstrap a minimal Debian from the machine's own apt mirror, trim it like
# debian:*-slim, cache the root filesystem as a tarball (so only the first run pays
# for debootstrap) and `podman import` it under the name the Dockerfile expects.
#
# Usage: tests/container/base-image.sh CACHE_DIR [IMAGE_NAME]
# Podman storage options come from $PODMAN_OPTS (e.g. "--root DIR --runroot DIR").
set -euo pipefail

cache_dir=${1:?usage: base-image.sh CACHE_DIR [IMAGE_NAME]}
# shellcheck source=/dev/null
. /etc/os-release
suite=${DEBIAN_SUITE:-${VERSION_CODENAME:-bookworm}}
image=${2:-docker.io/library/debian:${suite}-slim}
tarball="$cache_dir/debian-$suite-minbase.tar.gz"
read -r -a podman_opts <<<"${PODMAN_OPTS:-}"

# The mirror apt already uses on this machine (deb822 first, then the classic list).
mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

if [ ! -s "$tarball" ]; then
  mkdir -p "$cache_dir"
  rootfs=$(mktemp -d "$cache_dir/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "debootstrap $suite from $(mirror) (once; cached in $tarball)"
  debootstrap --variant=minbase "$suite" "$rootfs" "$(mirror)" >"$cache_dir/debootstrap.log" 2>&1 ||
    { tail -20 "$cache_dir/debootstrap.log"; exit 1; }
  # What debian:*-slim leaves out: docs, man pages, locales, apt caches and lists.
  rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/* "$rootfs"/tmp/*
  tar --numeric-owner -C "$rootfs" -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

if ! podman "${podman_opts[@]}" image exists "$image"; then
  podman "${podman_opts[@]}" import -q --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
fi
echo "$image"
