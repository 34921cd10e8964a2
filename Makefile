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
# The Give Me Some Credit training data (never committed; see README "Data").
DATA ?= $(if $(CREDIT_DATA),$(CREDIT_DATA),$(ROOT)/../shared/data/cs-training.csv.gz)
MODEL := $(ROOT)/models/default.json
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

TESTS :=

.PHONY: help run test build lint test-rust model vectors bench clean-work venv
help:
	@echo "make run     - build and start credit serve with the shipped model (http://127.0.0.1:8080)"
	@echo "make test    - install what is missing, then run every test"
	@echo "make model   - re-create models/default.json from the training data (byte for byte)"
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

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint $(TESTS)
	@echo "all tests passed"
