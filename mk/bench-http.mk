# HTTP benchmark (not part of `make test`): wrk against `credit serve` (strict and relaxed
# prediction log) and the seed's FastAPI design; table in .work/bench/http.md.
.PHONY: bench-http
BENCH_HTTP_ARGS ?=

$(VENV)/.stamp-bench-http: requirements/bench-http.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/bench-http.txt
	@touch $@

bench-http: $(CREDIT) $(VENV)/.stamp-bench-http data | $(WORK)
	scripts/apt-ensure.sh wrk
	$(PY) benches/http/bench.py --credit $(CREDIT) --model $(MODEL) --data $(DATA) \
	  --out $(WORK)/bench/http.md $(BENCH_HTTP_ARGS)
