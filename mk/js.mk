# JavaScript front doors: the Node package (napi-rs), the browser package (wasm-bindgen), the web
# page served at / and /gradio, the example Node app, and their tests (real Node, real headless
# Chromium (Debian's, or the installed Google Chrome), the real `credit serve`). Tools are
# installed here when missing: npm packages from the lock files, Debian packages via
# scripts/apt-ensure.sh, and the wasm-bindgen CLI (cargo install, once) under $(WORK)/tools.
.PHONY: node wasm web test-js test-node test-wasm test-wasm-chromium test-node-app test-e2e bench-wasm \
        js-wasm-toolchain js-chromium
TESTS += test-js
# node --test: the usual report on the terminal, and JUnit XML for scripts/test-summary.py.
NODE_JUNIT = --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit \
	--test-reporter-destination=$(JUNIT)/$(1).xml

WASM_BINDGEN_VERSION := 0.2.130
WASM_BINDGEN := $(WORK)/tools/bin/wasm-bindgen
NODE_ADDON := bindings-node/credit-default.linux-x64-gnu.node
WASM_PKG := bindings-wasm/pkg/credit_default_bg.wasm
# The browser package ships the model next to the .wasm (not compiled into it): a new model is
# copied, without rebuilding the .wasm.
WASM_MODEL := bindings-wasm/pkg/default-model.json
WEB_DIST := web/dist/index.html
CORE_SRC := $(shell find credit-core/src -name '*.rs' 2>/dev/null) credit-core/Cargo.toml
JS_CORE_SRC := $(CORE_SRC) $(MODEL)

# npm ci once per lock file (re-run when the lock changes).
%/node_modules/.stamp: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(NODE_ADDON): bindings-node/node_modules/.stamp bindings-node/src/lib.rs bindings-node/Cargo.toml bindings-node/dts-header.d.ts $(JS_CORE_SRC)
	cd bindings-node && npx napi build --platform --release
	@touch $@

node: $(NODE_ADDON)

# The wasm compiler: rustup's wasm32-unknown-unknown target + rust-src where the active toolchain
# has them (CI adds them), else Debian's rustc-web + lld-22 (installed here); build.sh --which
# tells which (WASM_TOOLCHAIN=rustup|debian overrides). make never downloads a rustup target.
# wasm-bindgen is built unoptimised (--debug): on a fresh machine its build took about two minutes
# instead of three, and it turns our module into the same files in 0.24 s instead of 0.06 s.
WASM_BINDGEN_INSTALL_ARGS ?= --debug
js-wasm-toolchain:
	@if [ "$$(bindings-wasm/build.sh --which)" = debian ]; then \
	  scripts/apt-ensure.sh rustc-web cargo-web rust-web-src lld-22; fi
	@if [ "$$($(WASM_BINDGEN) --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(WORK)/tools $(WASM_BINDGEN_INSTALL_ARGS); fi

# A headless browser for the tests: $CHROMIUM or $CHROME_BIN when set, else chromium,
# google-chrome(-stable) or chromium-browser when one is installed (bindings-wasm/test/helpers.mjs
# looks in the same order); only when there is none, Debian's chromium.
js-chromium:
	@if [ -n "$$CHROMIUM$$CHROME_BIN" ] || [ -x /usr/bin/chromium ]; then exit 0; fi; \
	for b in chromium google-chrome google-chrome-stable chromium-browser; do \
	  if command -v $$b >/dev/null; then exit 0; fi; done; \
	scripts/apt-ensure.sh chromium

$(WASM_PKG): bindings-wasm/node_modules/.stamp bindings-wasm/src/lib.rs bindings-wasm/Cargo.toml bindings-wasm/build.sh $(wildcard bindings-wasm/pkg-template/*) $(CORE_SRC) | js-wasm-toolchain
	WASM_BINDGEN=$(WASM_BINDGEN) bindings-wasm/build.sh
	@touch $@

$(WASM_MODEL): $(MODEL) $(WASM_PKG)
	cp $(MODEL) $@

wasm: $(WASM_PKG) $(WASM_MODEL)

$(WEB_DIST): $(WASM_PKG) $(WASM_MODEL) web/build.mjs $(wildcard web/src/*)
	node web/build.mjs

web: $(WEB_DIST)

test-node: $(NODE_ADDON)
	cd bindings-node && node --test $(call NODE_JUNIT,node) test/
	cd bindings-node && npx tsc --noEmit --strict --target es2022 --module nodenext --moduleResolution nodenext test/types-check.ts

# The node tests run once per .wasm (one process holds one instance), then the fallback test
# (a child Node with WebAssembly SIMD turned off).
test-wasm: $(WASM_PKG) $(WASM_MODEL)
	cd bindings-wasm && CREDIT_WASM=simd node --test $(call NODE_JUNIT,wasm) test/node.test.mjs
	cd bindings-wasm && CREDIT_WASM=nosimd node --test $(call NODE_JUNIT,wasm-nosimd) test/node.test.mjs
	cd bindings-wasm && node --test $(call NODE_JUNIT,wasm-fallback) test/fallback.test.mjs
	cd bindings-wasm && npx tsc --noEmit --strict --target esnext --module esnext --moduleResolution bundler test/types-check.ts

test-wasm-chromium: $(WASM_PKG) $(WASM_MODEL) js-chromium
	cd bindings-wasm && node --test $(call NODE_JUNIT,wasm-chromium) test/chromium.test.mjs

test-node-app: examples/node-app/node_modules/.stamp $(NODE_ADDON)
	cd examples/node-app && node --test $(call NODE_JUNIT,node-app) test/

test-e2e: $(CREDIT) $(WEB_DIST) web/node_modules/.stamp bindings-wasm/node_modules/.stamp js-chromium | $(WORK)
	cd web && CREDIT=$(CREDIT) node --test $(call NODE_JUNIT,e2e) test/

test-js: test-node test-wasm test-wasm-chromium test-node-app test-e2e

# Per-row time of a 100,000-row batch in Chromium (WASM) against the native core; prints the ratio.
bench-wasm: $(WASM_PKG) $(WASM_MODEL) bindings-wasm/node_modules/.stamp js-chromium
	node benches/wasm/bench.mjs
