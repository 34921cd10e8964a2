# credit serve: the REST API with its prediction log. `make run` serves the shipped model;
# `make test-service` runs the integration tests (real server, HTTP, SQLite, BigQuery emulator,
# schemathesis) against the release binary.
.PHONY: run test-service
TESTS += test-service
PORT ?= 8080

$(VENV)/.stamp-service: requirements/service.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/service.txt
	@touch $@

# `make run` is the whole product on a fresh clone: it builds the binary and the browser page
# (the first time takes minutes; each step says what it is doing), then serves the shipped model
# with the page at / and /gradio. A page that cannot be built stops `run` with the reason (the
# wasm toolchain: README, "Toolchain"); `make run-api` serves the API without the page.
.PHONY: run-api
run: | $(WORK)
	@[ -x $(CREDIT) ] || echo "make run: building the credit binary (release build; the first takes a few minutes)..."
	@$(MAKE) --no-print-directory build
	@[ -f $(ROOT)/web/dist/index.html ] || echo "make run: building the web page (wasm toolchain, wasm-bindgen CLI, npm packages; the first time takes several minutes)..."
	@$(MAKE) --no-print-directory web || { echo "make run: the web page could not be built (see above). 'make run-api' serves the API without it."; exit 1; }
	@echo "make run: serving http://$${HOST:-127.0.0.1}:$(PORT)/ (web page at / and /gradio, API docs at /docs; Ctrl-C stops)"
	@PORT=$(PORT) $(CREDIT) serve --host $${HOST:-127.0.0.1} --port $(PORT) --model $(MODEL) \
		--log sqlite://$(WORK)/predictions.db --web-dir $(ROOT)/web/dist

run-api: $(CREDIT) | $(WORK)
	PORT=$(PORT) $(CREDIT) serve --host $${HOST:-127.0.0.1} --port $(PORT) --model $(MODEL) \
		--log sqlite://$(WORK)/predictions.db --web-dir $(ROOT)/web/dist

test-service: $(CREDIT) $(VENV)/.stamp-service | $(WORK)
	CREDIT=$(CREDIT) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs -m "not slow and not soak" --junitxml=$(JUNIT)/service.xml tests/service

# The volume crash runs (marker `slow`): 100,000 decisions with a kill -9 mid-load (jsonl sink)
# and 100,000 with a SIGTERM mid-load (sqlite), every answered decision id counted in the log.
# About 25 s on two cores (an asyncio load generator), so `make test` runs them too.
.PHONY: test-crash
TESTS += test-crash
test-crash: $(CREDIT) $(VENV)/.stamp-service | $(WORK)
	CREDIT=$(CREDIT) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs -m "slow and not soak" --junitxml=$(JUNIT)/crash.xml tests/service

# `make test-slow` (not part of `make test`): the crash runs plus the long runs (marker `soak`):
# Schemathesis with `--checks all` and 10,000 examples per operation, with and without the
# admin route, on a fresh seed (printed; CREDIT_ST_SEED=N replays it). Tens of minutes on two
# cores; `make test-service` runs the same checks with a few hundred examples and a fixed seed.
.PHONY: test-slow
test-slow: $(CREDIT) $(VENV)/.stamp-service | $(WORK)
	CREDIT=$(CREDIT) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs -s -m "slow or soak" --junitxml=$(JUNIT)/slow.xml tests/service
