# HTTP benchmark (not part of `make test`): wrk against `credit serve` (strict and relaxed
# prediction log), a bare axum server (the floor: body in, fixed JSON out; the strict log's
# targets are ratios to it) and the seed's FastAPI design; table in .work/bench/http.md.
# BENCH_HTTP_ARGS passes flags to benches/http/bench.py, e.g. "--skip-fastapi --repeat 1".
.PHONY: bench-http
BENCH_HTTP_ARGS ?=
BARE_AXUM := $(ROOT)/target/release/bare_axum

$(VENV)/.stamp-bench-http: requirements/bench-http.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/bench-http.txt
	@touch $@

$(BARE_AXUM): benches/src/bin/bare_axum.rs benches/Cargo.toml Cargo.lock
	$(CARGO) build --release -p credit-benches --bin bare_axum
	@touch $@

bench-http: $(CREDIT) $(BARE_AXUM) $(VENV)/.stamp-bench-http data | $(WORK)
	scripts/apt-ensure.sh wrk
	$(PY) benches/http/bench.py --credit $(CREDIT) --bare-axum $(BARE_AXUM) --model $(MODEL) \
	  --data $(DATA) --out $(WORK)/bench/http.md $(BENCH_HTTP_ARGS)
