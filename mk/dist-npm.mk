# The npm artifacts of `make dist`: `npm pack` tarballs of the Node package `credit-default`, the
# platform package of the addon built here (`credit-default-linux-x64-gnu`) and the browser
# package `credit-default-wasm`, written into $(DIST). Each package is assembled under
# $(WORK)/npm-stage (tracked directories stay as they are) with the repository's LICENSE; see
# scripts/pack-npm.mjs. Their install checks are tests/dist/test_npm.py (`make test-dist`), which
# need Chromium and playwright-core (the driver, from bindings-wasm/node_modules): `dist-npm-check-deps`.
.PHONY: dist-npm dist-npm-check-deps

DIST ?= $(ROOT)/dist

# `node` and `wasm` are targets of mk/js.mk (included after this file: named here, not expanded).
dist-npm: node wasm | $(WORK)
	node scripts/pack-npm.mjs $(WORK)/npm-stage $(DIST)

dist-npm-check-deps: bindings-wasm/node_modules/.stamp bindings-node/node_modules/.stamp js-chromium
