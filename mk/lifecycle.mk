# The model lifecycle: `credit train` -> MLflow (tracking + registry), `credit monitor` (PSI of the
# prediction log), the Prefect retraining flow (lifecycle/retrain_flow.py). The tests start their
# own MLflow server and `credit serve` on free loopback ports and stop them.
.PHONY: test-lifecycle mlflow-server retrain monitor
TESTS += test-lifecycle

MLFLOW_PORT ?= 5000
MLFLOW_URI ?= http://127.0.0.1:$(MLFLOW_PORT)
LIFECYCLE_ENV := MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true PREFECT_HOME=$(WORK)/prefect-home \
	PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120

$(VENV)/.stamp-lifecycle: requirements/lifecycle.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/lifecycle.txt
	@touch $@

# Rust: `credit train --mlflow-uri` against a real MLflow server (an ignored test elsewhere), and
# `models:/` references in score / explain / monitor / serve (also over https with a private CA).
# Python: the Prefect flow against a real `credit serve` and MLflow (promote, then reject).
# (`credit monitor`'s tests are plain cargo tests: they run in test-rust.)
test-lifecycle: $(CREDIT) python $(VENV)/.stamp-lifecycle data | $(WORK)
	$(VENV)/bin/ruff check lifecycle tests/lifecycle
	set -o pipefail; CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) MLFLOW_BIN=$(VENV)/bin/mlflow \
		$(CARGO) test --profile opt-test -p credit-service --test lifecycle_mlflow -- --include-ignored 2>&1 \
		| tee $(JUNIT)/lifecycle-rust.log
	set -o pipefail; CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) MLFLOW_BIN=$(VENV)/bin/mlflow \
		$(CARGO) test --profile opt-test -p credit-service --test model_ref_mlflow -- --include-ignored 2>&1 \
		| tee $(JUNIT)/model-ref-rust.log
	$(LIFECYCLE_ENV) CREDIT=$(CREDIT) CREDIT_DATA=$(DATA) CREDIT_WORK=$(WORK) \
		$(PY) -m pytest -q -rs -p no:cacheprovider --junitxml=$(JUNIT)/lifecycle.xml tests/lifecycle

# A local tracking server for `credit train --mlflow-uri $(MLFLOW_URI)` (foreground; Ctrl-C stops).
mlflow-server: $(VENV)/.stamp-lifecycle | $(WORK)
	mkdir -p $(WORK)/mlflow
	$(LIFECYCLE_ENV) $(VENV)/bin/mlflow server --host 127.0.0.1 --port $(MLFLOW_PORT) \
		--backend-store-uri sqlite:///$(WORK)/mlflow/mlflow.db --serve-artifacts \
		--artifacts-destination $(WORK)/mlflow/artifacts

# One run of the retraining flow against the registry and a running service (CREDIT_ADMIN_TOKEN
# must be set). It writes only under .work/ and into MLflow: the champion is the registry's
# alias (`credit register --alias champion` puts the shipped model there first).
SERVICE_URL ?= http://127.0.0.1:8080
CHAMPION ?= models:/credit-default@champion
retrain: $(CREDIT) python $(VENV)/.stamp-lifecycle data | $(WORK)
	$(LIFECYCLE_ENV) CREDIT=$(CREDIT) $(PY) lifecycle/retrain_flow.py --data $(DATA) --champion $(CHAMPION) \
		--service-url $(SERVICE_URL) --mlflow-uri $(MLFLOW_URI) --out-dir $(WORK)/retrain

# Drift report of the service's prediction log (exit 1 = drift).
CREDIT_LOG ?= sqlite://$(WORK)/predictions.db
monitor: $(CREDIT) | $(WORK)
	$(CREDIT) monitor --log $(CREDIT_LOG) --model $(MODEL) --html $(WORK)/monitor.html
