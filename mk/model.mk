# Model comparison (not part of `make test`): the additive scorecard, interaction models
# (K = 4, 8, 12 pairs) and LightGBM (400 trees) on the same five cross-validation folds, every
# number out of fold. Prints a table (AUC, Brier, time) and keeps it in .work/model-compare/.
# Slow: on this project's shared 2-core machine under load the additive model took 9 CPU-minutes
# (39 min wall), an interaction model K=8 13 CPU-minutes, LightGBM 3 min; budget an hour or
# more for the whole table (docs/interactions.md). `--reuse` in compare.py resumes a run.
.PHONY: model-compare

$(VENV)/.stamp-model: requirements/model.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/model.txt
	@touch $@

model-compare: $(CREDIT) $(VENV)/.stamp-model data | $(WORK)
	$(VENV)/bin/ruff check benches/model
	$(PY) benches/model/compare.py --credit $(CREDIT) --data $(DATA) --out $(WORK)/model-compare
