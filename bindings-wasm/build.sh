#!/usr/bin/env bash
# Builds the browser package into bindings-wasm/pkg/: Debian's rustc-web compiles the crate for
# wasm32-unknown-unknown (std built from source), wasm-bindgen (--target web) writes the ES module
# and its .d.ts, and binaryen's wasm-opt (npm binaryen@132) shrinks the .wasm.
# Needs: scripts/apt-ensure.sh rustc-web cargo-web rust-web-src lld-22, the wasm-bindgen CLI
# 0.2.130 in $WASM_BINDGEN (default .work/tools/bin/wasm-bindgen) and `npm ci` here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
WASM_BINDGEN="${WASM_BINDGEN:-$root/.work/tools/bin/wasm-bindgen}"
out="$here/pkg"

# Size matters more than the last percent of speed here: opt-level z, one fat-LTO unit, and
# panics that abort without formatting a message (the API never panics; errors are values).
env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22 \
    CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
    /usr/bin/cargo build --manifest-path "$root/Cargo.toml" -p credit-default-wasm --release \
    --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort --target-dir "$root/target/wasm"

rm -rf "$out.tmp" && mkdir -p "$out.tmp"
"$WASM_BINDGEN" --target web --out-dir "$out.tmp" --out-name credit_default \
    "$root/target/wasm/wasm32-unknown-unknown/release/credit_default_wasm.wasm"
"$here/node_modules/.bin/wasm-opt" -Oz --strip-debug --strip-producers --strip-target-features \
    "$out.tmp/credit_default_bg.wasm" -o "$out.tmp/credit_default_bg.opt.wasm"
mv "$out.tmp/credit_default_bg.opt.wasm" "$out.tmp/credit_default_bg.wasm"
cp "$here/pkg-template/package.json" "$here/pkg-template/README.md" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
size=$(stat -c %s "$out/credit_default_bg.wasm")
gz=$(gzip -9c "$out/credit_default_bg.wasm" | wc -c)
echo "bindings-wasm/pkg: credit_default_bg.wasm ${size} bytes (${gz} gzipped)"
