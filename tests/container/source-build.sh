#!/usr/bin/env bash
# Builds the Dockerfile's default target `runtime` (the Rust builder stage compiling from source,
# then the runtime stage) as Docker or Cloud Build would, on a machine without an image registry:
# the Rust image is replaced by rust-local.Containerfile (debootstrap base + gcc) with the host's
# rustup toolchain mounted read-only. The builder downloads crates from crates.io, so the build
# container needs network access to it. Slow (a full release build): not part of `make test`.
#
# Usage: tests/container/source-build.sh CACHE_DIR IMAGE_NAME
# Podman storage options come from $PODMAN_OPTS.
set -euo pipefail
cache_dir=${1:?usage: source-build.sh CACHE_DIR IMAGE_NAME}
image=${2:?usage: source-build.sh CACHE_DIR IMAGE_NAME}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
read -r -a podman_opts <<<"${PODMAN_OPTS:-}"

"$here/base-image.sh" "$cache_dir" >/dev/null
sysroot=$(rustc --print sysroot)
if ! podman "${podman_opts[@]}" image exists localhost/rust-local:bookworm; then
  podman "${podman_opts[@]}" build --pull=never -q -t localhost/rust-local:bookworm \
    -f "$here/rust-local.Containerfile" "$here" >/dev/null
fi
web=web/dist
[ -f "$root/web/dist/index.html" ] || web=tests/container/web-standin
# The host's CA bundle: where the network reaches crates.io through a TLS-inspecting proxy that
# only the host trusts, the builder's cargo must trust it too (the Dockerfile stays unchanged).
mounts=(-v "$sysroot:/usr/local/rust:ro")
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] && mounts+=(-v "$ca:$ca:ro")
podman "${podman_opts[@]}" build --pull=never --format docker \
  --build-arg RUST_IMAGE=localhost/rust-local:bookworm \
  --build-arg WEB_DIST="$web" \
  "${mounts[@]}" \
  -t "$image" -f "$root/Dockerfile" "$root"
podman "${podman_opts[@]}" image prune -f >/dev/null  # the 1.4 GB builder stage is not needed afterwards
