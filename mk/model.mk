# Model comparison (not part of `make test`): the additive scorecard, interaction models
# (K = 4, 8, 12 pairs) and LightGBM (400 trees) on the same five cross-validation folds, every
# number out of fold. Prints a table (AUC, Brier, time) and keeps it in .work/model-compare/.
# Takes about 45 minutes on two busy cores (see docs/model-compare.md).
.PHONY: model-compare

$(VENV)/.stamp-model: requirements/model.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/model.txt
	@touch $@

model-compare: $(CREDIT) $(VENV)/.stamp-model data | $(WORK)
	$(VENV)/bin/ruff check benches/model
	$(PY) benches/model/compare.py --credit $(CREDIT) --data $(DATA) --out $(WORK)/model-compare
