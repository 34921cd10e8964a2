# The Python front door: `credit_default` (pyo3 + maturin, abi3 wheel), its tests, notebook,
# PySpark example and benchmark.
.PHONY: python test-python bench-python
TESTS += test-python

PY_SRC := $(shell find bindings-python/src bindings-python/python -type f 2>/dev/null) \
          bindings-python/Cargo.toml bindings-python/pyproject.toml \
          $(shell find credit-core/src -name '*.rs' 2>/dev/null) credit-core/Cargo.toml $(MODEL)
PY_WHEELS := $(WORK)/wheels

$(VENV)/.stamp-python: requirements/python.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/python.txt
	@touch $@

# Build the wheel (release, abi3) and install it into the project venv.
$(VENV)/.stamp-python-wheel: $(PY_SRC) $(VENV)/.stamp-python | $(WORK)
	rm -rf $(PY_WHEELS) bindings-python/python/credit_default/*.so
	cd bindings-python && $(VENV)/bin/maturin build --release --quiet -i $(PY) -o $(PY_WHEELS)
	$(PIP) install -q --force-reinstall --no-deps $(PY_WHEELS)/credit_default-*.whl
	@touch $@

python: $(VENV)/.stamp-python-wheel

# Unit tests, shared vectors, sklearn checks, CV AUC against `credit train`, the notebook
# (nbconvert --execute) and the PySpark mapInArrow test.
test-python: $(CREDIT) $(VENV)/.stamp-python-wheel data | $(WORK)
	$(VENV)/bin/ruff check bindings-python examples/python examples/spark benches/python
	cd bindings-python && CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) \
		SPARK_LOCAL_IP=127.0.0.1 $(PY) -m pytest -q -rs --junitxml=$(JUNIT)/python.xml tests

# Not part of `make test`. Every peer runs the same scorecard: ONNX Runtime on `credit export --to
# onnx`, DuckDB on `credit export --to sql --dialect duckdb` (skipped, with the reason printed, while
# the export refuses it), credit_default on numpy / pandas / polars / Arrow; scikit-learn and
# optbinning stay as the models a user would otherwise build. BLAS/OpenMP pinned with threadpoolctl.
$(VENV)/.stamp-python-bench: $(VENV)/.stamp-python
	$(PIP) install -q onnxruntime duckdb optbinning threadpoolctl
	@touch $@

# Writes $(WORK)/bench/python-<UTC time>.json (machine, load average, versions, raw timings) and
# $(WORK)/bench/python-table.md (the README table, generated from that JSON). Nothing tracked is
# rewritten: copying a result into benches/results/ is a maintainer's deliberate step.
# OPENBLAS_* are unset for this command alone so scikit-learn / numpy use their fast kernels.
BENCH_PYTHON_ARGS ?=
bench-python: $(CREDIT) $(VENV)/.stamp-python-wheel $(VENV)/.stamp-python-bench data | $(WORK)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) \
		$(PY) benches/python/bench_python.py --out $(WORK)/bench $(BENCH_PYTHON_ARGS)
	$(PY) benches/python/results_table.py -o $(WORK)/bench/python-table.md
