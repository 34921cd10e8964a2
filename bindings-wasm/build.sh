#!/usr/bin/env bash
# Builds the browser package into bindings-wasm/pkg/: rustc compiles the crate for
# wasm32-unknown-unknown (std built from source), wasm-bindgen (--target web) writes the bindings
# (credit_default_glue.js and its .d.ts), binaryen's wasm-opt (npm binaryen@132) shrinks the .wasm,
# and pkg-template/ adds the entry module (credit_default.js, which loads the shipped model), its
# .d.ts, package.json and README. The shipped model is not compiled into the .wasm: it is copied
# next to it as default-model.json.
#
# Two toolchains, chosen by what is installed (override: WASM_TOOLCHAIN=rustup|debian):
# - rustup: the active toolchain has the wasm32-unknown-unknown target and the rust-src component
#   (`rustup target add wasm32-unknown-unknown && rustup component add rust-src`, as CI does);
#   rustup's own rust-lld links.
# - debian: otherwise. Debian's rustc-web (/usr/bin/rustc, /usr/bin/cargo, std sources from
#   rust-web-src) and wasm-ld-22 from lld-22: scripts/apt-ensure.sh rustc-web cargo-web
#   rust-web-src lld-22 (what `make js-wasm-toolchain` does when rustup lacks the target).
# `build.sh --which` prints the toolchain it would use and exits.
# Also needs the wasm-bindgen CLI 0.2.130 in $WASM_BINDGEN (default .work/tools/bin/wasm-bindgen)
# and `npm ci` here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
WASM_BINDGEN="${WASM_BINDGEN:-$root/.work/tools/bin/wasm-bindgen}"
out="$here/pkg"
die() { echo "bindings-wasm/build.sh: $*" >&2; exit 1; }

# rustup when its active toolchain (here, in the repository) has the target and std's sources.
rustup_has_wasm() {
  command -v rustup >/dev/null &&
    (cd "$root" && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown &&
      rustup component list --installed 2>/dev/null | grep -q '^rust-src')
}
toolchain="${WASM_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if rustup_has_wasm; then toolchain=rustup; else toolchain=debian; fi
fi
if [ "${1:-}" = --which ]; then echo "$toolchain"; exit 0; fi

# Size matters more than the last percent of speed here: opt-level z, one fat-LTO unit, panics
# that abort without formatting a message (the API never panics; errors are values), no file/line
# data for panic locations, and std built with its `optimize_for_size` feature (smaller variants
# of the same algorithms: same results). Without the reference-types and multivalue features,
# wasm-bindgen keeps JS values in its JS-side slab instead of generating externref shims for
# every export (1.5 KB smaller; one array lookup per value crossing the boundary). `simd128`
# compiles in credit-core's SIMD128 batch kernel (kernel/simd128.rs, `predictBatch` about 1.7x
# faster, +2.7 KB): WebAssembly SIMD runs in every current browser engine, and the tests run
# this .wasm in Node and in Chromium.
case "$toolchain" in
  rustup)
    wasm_env=()
    cargo_bin=cargo
    target_dir="$root/target/wasm-rustup"
    ;;
  debian)
    for f in /usr/bin/rustc /usr/bin/cargo; do
      [ -x "$f" ] || die "$f is missing: scripts/apt-ensure.sh rustc-web cargo-web rust-web-src lld-22 (Debian), or rustup target add wasm32-unknown-unknown && rustup component add rust-src"
    done
    command -v wasm-ld-22 >/dev/null || die "wasm-ld-22 is missing: scripts/apt-ensure.sh lld-22"
    # Without RUSTC= Debian's cargo would pick up rustup's rustc first in PATH; Debian ships no
    # rust-lld, so the linker is named.
    wasm_env=(RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22)
    cargo_bin=/usr/bin/cargo
    target_dir="$root/target/wasm"
    ;;
  *) die "WASM_TOOLCHAIN must be rustup or debian, not '$toolchain'" ;;
esac
echo "bindings-wasm/build.sh: $toolchain toolchain ($(env ${wasm_env[@]+"${wasm_env[@]}"} "$cargo_bin" --version))"
env ${wasm_env[@]+"${wasm_env[@]}"} RUSTC_BOOTSTRAP=1 \
    CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Ctarget-feature=-reference-types,-multivalue,+simd128" \
    "$cargo_bin" build --manifest-path "$root/Cargo.toml" -p credit-default-wasm --release \
    --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
    --target-dir "$target_dir"

rm -rf "$out.tmp" && mkdir -p "$out.tmp"
"$WASM_BINDGEN" --target web --out-dir "$out.tmp" --out-name credit_default_glue \
    "$target_dir/wasm32-unknown-unknown/release/credit_default_wasm.wasm"
# The entry module always passes the .wasm's URL to the glue, so the file can take the name it had.
# `--flatten --rereloop` first: binaryen rebuilds every function's control flow, 1.3 KB smaller,
# no change in speed (measured: predictBatch instructions per row in Node, Chromium times).
"$here/node_modules/.bin/wasm-opt" --flatten --rereloop -Oz --converge --strip-debug --strip-producers --strip-target-features \
    "$out.tmp/credit_default_glue_bg.wasm" -o "$out.tmp/credit_default_bg.wasm"
mv "$out.tmp/credit_default_glue_bg.wasm.d.ts" "$out.tmp/credit_default_bg.wasm.d.ts"
rm "$out.tmp/credit_default_glue_bg.wasm"
cp "$root/models/default.json" "$out.tmp/default-model.json"
cp "$here/pkg-template/credit_default.js" "$here/pkg-template/credit_default.d.ts" \
    "$here/pkg-template/package.json" "$here/pkg-template/README.md" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
size=$(stat -c %s "$out/credit_default_bg.wasm")
gz=$(gzip -9c "$out/credit_default_bg.wasm" | wc -c)
echo "bindings-wasm/pkg: credit_default_bg.wasm ${size} bytes (${gz} gzipped)"
