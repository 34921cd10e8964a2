# credit serve: the REST API with its prediction log. `make run` serves the shipped model;
# `make test-service` runs the integration tests (real server, HTTP, SQLite, BigQuery emulator,
# schemathesis) against the release binary.
.PHONY: run test-service
TESTS += test-service
PORT ?= 8080

$(VENV)/.stamp-service: requirements/service.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/service.txt
	@touch $@

# Builds the browser page first when that target exists (so /gradio works), then serves.
run: $(CREDIT) | $(WORK)
	@if $(MAKE) -n web >/dev/null 2>&1; then $(MAKE) web || echo "(web page not built; / shows how to build it)"; fi
	PORT=$(PORT) $(CREDIT) serve --host $${HOST:-127.0.0.1} --port $(PORT) --model $(MODEL) \
		--log sqlite://$(WORK)/predictions.db --web-dir $(ROOT)/web/dist

test-service: $(CREDIT) $(VENV)/.stamp-service | $(WORK)
	CREDIT=$(CREDIT) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs --junitxml=$(JUNIT)/service.xml tests/service
