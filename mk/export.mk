# `credit export`: the scorecard as SQL (DuckDB, BigQuery, Postgres, Spark SQL) and ONNX, each
# run on its real engine against `credit score` (tests/export): DuckDB and ONNX Runtime from PyPI,
# the BigQuery emulator (scripts/bqemu_launcher.py), Spark on local[2] (Java 17), and a throwaway
# PostgreSQL cluster from Debian's `postgresql` package (installed here when missing; where apt
# is unavailable the Postgres test skips and says why).
.PHONY: test-export
TESTS += test-export

$(VENV)/.stamp-export: requirements/export.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/export.txt
	@touch $@

# The wheel: test_onnx compares full-precision scores with the Python package (same core).
test-export: $(CREDIT) $(VENV)/.stamp-export $(VENV)/.stamp-python-wheel data | $(WORK)
	$(VENV)/bin/ruff check tests/export
	scripts/apt-ensure.sh postgresql || echo "test-export: PostgreSQL not installable here; its test will skip"
	CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) SPARK_LOCAL_IP=127.0.0.1 \
		$(PY) -m pytest -q -rs -p no:cacheprovider --junitxml=$(JUNIT)/export.xml tests/export
