# credit-core and the CLI: unit, property, CLI and independent-math tests; model and vectors.
.PHONY: test-rust test-core-python
TESTS += test-rust test-core-python

test-rust: $(CREDIT)
	CREDIT_DATA=$(DATA) $(CARGO) test --workspace --release

$(VENV)/.stamp-core: requirements/core.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/core.txt
	@touch $@

# Independent checks of the math with plain Python and scikit-learn (no project code).
test-core-python: $(CREDIT) $(VENV)/.stamp-core | $(WORK)
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -p no:cacheprovider tests/independent tests/cli

model: $(CREDIT)
	$(CREDIT) train --data $(DATA) --out $(MODEL) --report $(WORK)/report --model-version $(MODEL_VERSION)
	cp $(MODEL) credit-core/model/default.json
	$(CREDIT) vectors --model $(patsubst $(ROOT)/%,%,$(MODEL)) --out testdata/vectors.json

vectors: $(CREDIT)
	$(CREDIT) vectors --model $(patsubst $(ROOT)/%,%,$(MODEL)) --out testdata/vectors.json

bench-core:
	$(CARGO) bench -p credit-benches --bench scoring
MODEL_VERSION ?= 1.0.0
