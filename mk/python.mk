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

# Build the wheel (release, abi3) and install it into the project venv. It is built like the
# released wheel (PY_WHEEL_BUILD, mk/dist-python.mk), so zig is among its tools.
$(VENV)/.stamp-python-wheel: $(PY_SRC) $(VENV)/.stamp-python $(VENV)/.stamp-dist-python | $(WORK)
	rm -rf $(PY_WHEELS) bindings-python/python/credit_default/*.so
	$(PY_WHEEL_BUILD) -o $(PY_WHEELS)
	$(PIP) install -q --force-reinstall --no-deps $(PY_WHEELS)/credit_default-*.whl
	@touch $@

python: $(VENV)/.stamp-python-wheel

# Unit tests, shared vectors, sklearn checks, CV AUC against `credit train`, the notebook
# (nbconvert --execute) and the PySpark mapInArrow test. mypy.stubtest compares the native
# module's stubs (_native.pyi) with the built module: names, signatures, defaults, @final.
test-python: $(CREDIT) $(VENV)/.stamp-python-wheel data | $(WORK)
	$(VENV)/bin/ruff check bindings-python examples/python examples/spark benches/python \
	  tests/conftest.py tests/cli tests/independent tests/service tests/container
	$(PY) -m mypy.stubtest credit_default._native
	cd bindings-python && CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) \
		SPARK_LOCAL_IP=127.0.0.1 $(PY) -m pytest -q -rs --junitxml=$(JUNIT)/python.xml tests

# The package in throwaway venvs (under $(WORK)/python-compat) with what the shared venv cannot
# hold. Each runs the input, vector and estimator tests (not the full-data fits).
#   test-python-compat  pandas 3 (the shared venv keeps pandas < 3 for PySpark); in `make test`.
#   test-python-floor   the lowest scikit-learn the `sklearn` extra allows (read from
#                       pyproject.toml), without the estimator-check list, whose check names follow
#                       the scikit-learn version; in `make test-slow` (about 2 minutes, mostly pip).
TESTS += test-python-compat
.PHONY: test-python-compat test-python-floor
PY_COMPAT := $(WORK)/python-compat
SKLEARN_FLOOR = $(shell sed -n 's/.*"scikit-learn>=\([0-9.]*\)".*/\1/p' bindings-python/pyproject.toml)
PY_COMPAT_TESTS := tests/test_inputs.py tests/test_vectors.py tests/test_sklearn.py

test-python-compat: $(VENV)/.stamp-python-wheel | $(WORK)
	$(PY) -m venv --clear $(PY_COMPAT)/pandas3
	$(PY_COMPAT)/pandas3/bin/pip install -q "$$(ls $(PY_WHEELS)/credit_default-*.whl)[sklearn,arrow,polars]" \
		"pandas>=3" pytest scipy duckdb
	cd bindings-python && $(PY_COMPAT)/pandas3/bin/python -c "import pandas; assert pandas.__version__ >= '3', pandas.__version__" \
		&& $(PY_COMPAT)/pandas3/bin/python -m pytest -q -p no:cacheprovider $(PY_COMPAT_TESTS) \
		-k "not cv_auc and not exports_the_cli"

test-slow: test-python-floor
test-python-floor: $(VENV)/.stamp-python-wheel | $(WORK)
	@test -n "$(SKLEARN_FLOOR)" || { echo "no scikit-learn floor in bindings-python/pyproject.toml"; exit 1; }
	$(PY) -m venv --clear $(PY_COMPAT)/sklearn-floor
	$(PY_COMPAT)/sklearn-floor/bin/pip install -q "$$(ls $(PY_WHEELS)/credit_default-*.whl)[arrow,polars]" \
		"scikit-learn==$(SKLEARN_FLOOR)" "pandas<3" pytest scipy duckdb
	cd bindings-python && $(PY_COMPAT)/sklearn-floor/bin/python -m pytest -q -p no:cacheprovider $(PY_COMPAT_TESTS) \
		-k "not cv_auc and not exports_the_cli and not estimator_checks and not stated_reason"

# Not part of `make test`. Every peer runs the same scorecard: ONNX Runtime on `credit export --to
# onnx`, DuckDB on `credit export --to sql --dialect duckdb`, credit_default on numpy, pandas, polars
# and Arrow; scikit-learn and
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
