# The training data the tests read (DATA, chosen in the Makefile) and the summary of a test run.
# `make data` prints which data the run uses, and builds the synthetic stand-in when that is the
# one; the targets that read the data depend on it. `make test-summary` prints the Markdown
# summary of the results under $(WORK)/junit and $(WORK)/skips (CI appends it to the job summary);
# they are cleared when the data changes from one run to the next, so they never mix the two.
.PHONY: data test-summary
JUNIT := $(WORK)/junit
SYNTHETIC_ROWS ?= 20000

$(SYNTHETIC_DATA): scripts/synth_data.py
	python3 scripts/synth_data.py --rows $(SYNTHETIC_ROWS) --out $@

data: $(if $(filter synthetic,$(DATA_SOURCE)),$(SYNTHETIC_DATA))
	@if [ ! -f "$(DATA)" ]; then \
	  echo "training data $(DATA) not found ($(DATA_SOURCE)): set CREDIT_DATA (see README, Data)" >&2; exit 1; fi
	@if [ "$(DATA_SOURCE)" = synthetic ]; then \
	  line="data: SYNTHETIC stand-in ($(SYNTHETIC_ROWS) rows from scripts/synth_data.py), not the Give Me Some Credit data: checks that need the real data skip (set CREDIT_DATA; see README, Data)"; \
	else line="data: the Give Me Some Credit data, $(notdir $(DATA)) (from $(DATA_SOURCE))"; fi; \
	echo "$$line"; \
	if [ "$$(cat $(WORK)/data-source.txt 2>/dev/null)" != "$$line" ]; then rm -rf $(JUNIT) $(WORK)/skips; fi; \
	mkdir -p $(JUNIT) $(WORK)/skips; echo "$$line" > $(WORK)/data-source.txt

test-summary:
	@python3 scripts/test-summary.py --work $(WORK)
