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
	set -o pipefail; CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) $(CARGO) test --workspace --release --exclude credit-benches --exclude credit-default-wasm 2>&1 | tee $(JUNIT)/rust.log
	set -o pipefail; $(CARGO) test --release -p credit-core --no-default-features --lib --tests 2>&1 | tee $(JUNIT)/rust-no-cells.log

$(VENV)/.stamp-core: requirements/core.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/core.txt
	@touch $@

# Independent checks of the math with plain Python and scikit-learn (no project code).
test-core-python: $(CREDIT) $(VENV)/.stamp-core data | $(WORK)
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs -p no:cacheprovider \
	  --junitxml=$(JUNIT)/core-python.xml tests/independent tests/cli

model: $(CREDIT) data
	@if [ "$(DATA_SOURCE)" = synthetic ]; then echo "make model needs the Give Me Some Credit data (set CREDIT_DATA; see README, Data)" >&2; exit 1; fi
	$(CREDIT) train --data $(DATA) --out $(MODEL) --report $(WORK)/report --model-version $(MODEL_VERSION)
	cp $(MODEL) credit-core/model/default.json
	$(CREDIT) vectors --model $(patsubst $(ROOT)/%,%,$(MODEL)) --out testdata/vectors.json

vectors: $(CREDIT)
	$(CREDIT) vectors --model $(patsubst $(ROOT)/%,%,$(MODEL)) --out testdata/vectors.json

bench-core:
	$(CARGO) bench -p credit-benches --bench scoring
MODEL_VERSION ?= 1.0.0
