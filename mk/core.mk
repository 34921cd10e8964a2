# credit-core and the CLI: unit, property, CLI and independent-math tests; model and vectors.
.PHONY: test-rust test-core-python
TESTS += test-rust test-core-python

# The output is kept in $(JUNIT)/rust.log for `make test-summary` (libtest has no stable JUnit).
# The benches crate and the wasm binding have no Rust tests (theirs run under criterion and in
# JS); leaving them out spares compiling criterion and wasm-bindgen for the host in release.
# The second run is the core as the browser package builds it (without the `interactions`
# feature): only credit-core's library and integration tests, no doctests, so it rebuilds
# one crate.
test-rust: $(CREDIT) data
	set -o pipefail; CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) $(CARGO) test --workspace --profile opt-test --exclude credit-benches --exclude credit-default-wasm 2>&1 | tee $(JUNIT)/rust.log
	set -o pipefail; $(CARGO) test --profile opt-test -p credit-core --no-default-features --lib --tests 2>&1 | tee $(JUNIT)/rust-no-cells.log

$(VENV)/.stamp-core: requirements/core.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/core.txt
	@touch $@

# Independent checks of the math with plain Python and scikit-learn (no project code), the
# command line on nasty inputs, and the CI tooling's own scripts (tests/tools).
test-core-python: $(CREDIT) $(VENV)/.stamp-core data | $(WORK)
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs -p no:cacheprovider \
	  --junitxml=$(JUNIT)/core-python.xml tests/independent tests/cli tests/tools

# `make model` retrains the shipped scorecard into $(MODEL_OUT)/ and never writes a tracked file:
# the artifact (default.json), its report and its test vectors (vectors.json, recording the
# shipped path so they compare byte for byte). Training is deterministic. About 15 CPU-minutes
# on the full data (the cross-validation fits five folds from scratch, bins, pair choice and
# cells each time). MODEL_TRAIN_ARGS are the shipped model's settings: eight interaction pairs
# (docs/interactions.md says why eight). A model release is the
# maintainer copying the three files over models/default.json, credit-core/model/default.json
# and testdata/vectors.json (docs/model-release.md); tests then tell whether they agree.
MODEL_OUT := $(WORK)/model
model: $(CREDIT) data | $(WORK)
	@if [ "$(DATA_SOURCE)" = synthetic ]; then echo "make model needs the Give Me Some Credit data (set CREDIT_DATA; see README, Data)" >&2; exit 1; fi
	mkdir -p $(MODEL_OUT)
	$(CREDIT) train --data $(DATA) --out $(MODEL_OUT)/default.json --report $(MODEL_OUT)/report --model-version $(MODEL_VERSION) $(MODEL_TRAIN_ARGS)
	$(CREDIT) vectors --model $(MODEL_OUT)/default.json --recorded-as models/default.json --out $(MODEL_OUT)/vectors.json
	@echo "make model: wrote $(MODEL_OUT)/default.json, $(MODEL_OUT)/vectors.json and $(MODEL_OUT)/report/"

# The shipped model's test vectors regenerated into $(WORK)/vectors.json (a unit test of the
# service crate fails when the committed ones differ).
vectors: $(CREDIT) | $(WORK)
	$(CREDIT) vectors --model models/default.json --out $(WORK)/vectors.json

# Slow, not in `make test` (a full training, about 15 CPU-minutes): `make model` must give the
# committed model and vectors byte for byte. Part of `make test-slow` (CI: .github/workflows/slow.yml,
# nightly). Only the real rows can give the shipped model: on the synthetic stand-in it is skipped,
# saying so on stdout and in $(WORK)/skips/ (the CI job summary lists it).
.PHONY: test-model-reproduction
ifeq ($(DATA_SOURCE),synthetic)
test-model-reproduction: data | $(WORK)
	@why="skipped: make model needs the Give Me Some Credit data (set CREDIT_DATA; see README, Data)"; \
	  echo "test-model-reproduction: $$why"; mkdir -p $(WORK)/skips; echo "$$why" > $(WORK)/skips/model-reproduction.txt
else
test-model-reproduction: model
	cmp $(MODEL_OUT)/default.json models/default.json
	cmp $(MODEL_OUT)/default.json credit-core/model/default.json
	cmp $(MODEL_OUT)/vectors.json testdata/vectors.json
	@echo "test-model-reproduction: make model re-creates the shipped model and vectors byte for byte"
endif
test-slow: test-model-reproduction

bench-core:
	$(CARGO) bench -p credit-benches --bench scoring
MODEL_VERSION ?= 1.1.0
MODEL_TRAIN_ARGS ?= --interactions 8
