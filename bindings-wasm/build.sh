#!/usr/bin/env bash
# Builds the browser package into bindings-wasm/pkg/: rustc compiles the crate for
# wasm32-unknown-unknown (std built from source) twice, with and without WebAssembly SIMD,
# wasm-bindgen (--target web) writes the bindings (credit_default_glue.js and its .d.ts, one glue
# for both), binaryen's wasm-opt (npm binaryen@132) shrinks the two .wasm files,
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
# faster, +2.7 KB). Engines without WebAssembly SIMD refuse such a module outright, so a second
# .wasm is built without it (see below); the tests run both in Node and in Chromium.
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

# compile VARIANT FEATURES: builds the crate with the given target features in its own target
# directory (std is rebuilt for each feature set, so the two variants must not share one).
compile() {
  env ${wasm_env[@]+"${wasm_env[@]}"} RUSTC_BOOTSTRAP=1 \
      CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat \
      RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Ctarget-feature=$2" \
      "$cargo_bin" build --manifest-path "$root/Cargo.toml" -p credit-default-wasm --release \
      --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
      --target-dir "$target_dir$1"
}

# bind VARIANT TARGET_DIR_SUFFIX OUT_NAME: wasm-bindgen's glue into $out.tmp/VARIANT/, then
# wasm-opt writes the optimised .wasm as $out.tmp/OUT_NAME. `--flatten --rereloop` first: binaryen rebuilds every
# function's control flow, 1.3 KB smaller, no change in speed (measured: predictBatch
# instructions per row in Node, Chromium times).
bind() {
  mkdir -p "$out.tmp/$1"
  "$WASM_BINDGEN" --target web --out-dir "$out.tmp/$1" --out-name credit_default_glue \
      "$target_dir$2/wasm32-unknown-unknown/release/credit_default_wasm.wasm"
  "$here/node_modules/.bin/wasm-opt" --flatten --rereloop -Oz --converge --strip-debug --strip-producers --strip-target-features \
      "$out.tmp/$1/credit_default_glue_bg.wasm" -o "$out.tmp/$3"
}

# Two modules from the same sources: with SIMD128 (the batch kernel of credit-core's
# kernel/simd128.rs) and without (the scalar kernel), for engines without WebAssembly SIMD
# (older Safari, some embedded WebViews, engines running with SIMD disabled). The entry module
# picks one at init() by feature detection. The non-SIMD one goes to its own target directory.
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
compile "" "-reference-types,-multivalue,+simd128"
bind simd "" credit_default_bg.wasm
compile "-nosimd" "-reference-types,-multivalue,-simd128"
bind nosimd -nosimd credit_default_nosimd_bg.wasm
# One glue serves both modules: they export and import the same functions. Should that ever
# change, stop here rather than ship a glue that does not fit one of them.
for f in credit_default_glue.js credit_default_glue.d.ts; do
  cmp -s "$out.tmp/simd/$f" "$out.tmp/nosimd/$f" || die "the SIMD and non-SIMD builds' $f differ"
done
# The entry module always passes the .wasm's URL to the glue, so the files can take any name.
mv "$out.tmp/simd/credit_default_glue.js" "$out.tmp/simd/credit_default_glue.d.ts" "$out.tmp/"
mv "$out.tmp/simd/credit_default_glue_bg.wasm.d.ts" "$out.tmp/credit_default_bg.wasm.d.ts"
rm -r "$out.tmp/simd" "$out.tmp/nosimd"
cp "$root/models/default.json" "$out.tmp/default-model.json"
cp "$here/pkg-template/credit_default.js" "$here/pkg-template/credit_default.d.ts" \
    "$here/pkg-template/package.json" "$here/pkg-template/README.md" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
for f in credit_default_bg.wasm credit_default_nosimd_bg.wasm; do
  size=$(stat -c %s "$out/$f")
  gz=$(gzip -9c "$out/$f" | wc -c)
  echo "bindings-wasm/pkg: $f ${size} bytes (${gz} gzipped)"
done
