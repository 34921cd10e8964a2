"""The seed's serving design, rebuilt faithfully as the benchmark's reference point.

What the original service did per request, and what this app does too:
- a Pydantic model of the ten applicant fields validates the JSON body;
- the body becomes a one-row pandas DataFrame (``pd.DataFrame([data.dict()])``);
- a scikit-learn pipeline (median imputer -> standard scaler -> logistic regression) predicts;
- the answer is ``{"prediction": 0|1}``; uvicorn serves it.

The pipeline is trained once at start-up on the training data named by ``CREDIT_DATA`` (the seed
loaded an MLflow artifact instead; loading or training does not change the per-request path).
What the reference leaves out: the seed's per-request BigQuery insert. That only flatters it.

Run: ``CREDIT_DATA=... uvicorn app:app --port 8000`` from this directory.
"""

from __future__ import annotations

import os

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

# The Kaggle columns, with the seed's Python-friendly names for the two hyphenated ones.
KAGGLE_TO_SEED = {
    "NumberOfTime30-59DaysPastDueNotWorse": "NumberOfTime30_59DaysPastDueNotWorse",
    "NumberOfTime60-89DaysPastDueNotWorse": "NumberOfTime60_89DaysPastDueNotWorse",
}


class CreditData(BaseModel):
    """The request body of the seed's POST /predict."""

    RevolvingUtilizationOfUnsecuredLines: float
    age: int
    NumberOfTime30_59DaysPastDueNotWorse: int
    DebtRatio: float
    MonthlyIncome: float | None = None
    NumberOfOpenCreditLinesAndLoans: int
    NumberOfTimes90DaysLate: int
    NumberRealEstateLoansOrLines: int
    NumberOfTime60_89DaysPastDueNotWorse: int
    NumberOfDependents: float | None = None


FEATURES = list(CreditData.model_fields)


def train(path: str) -> Pipeline:
    """Fits the seed's pipeline on the labelled CSV (gzip or plain, 'NA' = missing)."""
    df = pd.read_csv(path, index_col=0).rename(columns=KAGGLE_TO_SEED)
    model = Pipeline(
        [
            ("imputer", SimpleImputer(strategy="median")),
            ("scaler", StandardScaler()),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    model.fit(df[FEATURES], df["SeriousDlqin2yrs"])
    return model


data_path = os.environ.get("CREDIT_DATA")
if not data_path:
    raise SystemExit("set CREDIT_DATA to the training CSV (cs-training.csv.gz)")
model = train(data_path)
app = FastAPI(title="Credit default (seed reference)")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(data: CreditData) -> dict[str, int]:
    df = pd.DataFrame([data.model_dump()])
    prediction = model.predict(df[FEATURES])
    return {"prediction": int(prediction[0])}
