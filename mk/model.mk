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

# How far a model of main effects and pairs can go on the same folds (not part of `make test`):
# the shipped model's training run writes its out-of-fold table (kept and reused in
# .work/model-bound/), then LightGBM fits stumps, free depth-2 trees and depth-2 trees restricted
# to pairs (all without age, the K best with and without age, the shipped model's alone and with
# every age pair) on exactly those rows and folds (benches/model/pairs_bound.py). About 15
# CPU-minutes for the training run and 8 for LightGBM on a 2-core EPYC (docs/interactions.md,
# "How far a model of pairs can go").
.PHONY: model-bound
model-bound: $(CREDIT) $(VENV)/.stamp-model data | $(WORK)
	$(VENV)/bin/ruff check benches/model
	mkdir -p $(WORK)/model-bound
	test -s $(WORK)/model-bound/oof.csv || $(CREDIT) train --data $(DATA) $(MODEL_TRAIN_ARGS) --quiet \
		--out $(WORK)/model-bound/model.json --oof $(WORK)/model-bound/oof.csv
	$(PY) benches/model/pairs_bound.py --data $(DATA) --oof $(WORK)/model-bound/oof.csv \
		--model $(WORK)/model-bound/model.json --out $(WORK)/model-bound
