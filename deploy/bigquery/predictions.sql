-- DDL equivalent of predictions.schema.json (replace PROJECT.DATASET).
CREATE TABLE IF NOT EXISTS `PROJECT.DATASET.predictions` (
  decision_id STRING NOT NULL,
  request_id STRING NOT NULL,
  trace_id STRING,
  ts TIMESTAMP NOT NULL,
  model_version STRING NOT NULL,
  input STRUCT<
    RevolvingUtilizationOfUnsecuredLines FLOAT64,
    age FLOAT64,
    NumberOfTime30_59DaysPastDueNotWorse FLOAT64,
    DebtRatio FLOAT64,
    MonthlyIncome FLOAT64,
    NumberOfOpenCreditLinesAndLoans FLOAT64,
    NumberOfTimes90DaysLate FLOAT64,
    NumberRealEstateLoansOrLines FLOAT64,
    NumberOfTime60_89DaysPastDueNotWorse FLOAT64,
    NumberOfDependents FLOAT64
  > NOT NULL,
  probability FLOAT64 NOT NULL,
  prediction INT64 NOT NULL,
  score FLOAT64 NOT NULL,
  reasons ARRAY<STRING>,
  latency_us INT64 NOT NULL
)
PARTITION BY DATE(ts)
CLUSTER BY model_version
OPTIONS (description = 'credit serve prediction log: one row per answered prediction');
