#!/usr/bin/env bash
# Creates the prediction-log table of `credit serve` (day-partitioned on ts, clustered by
# model_version). Usage: deploy/bigquery/create_table.sh PROJECT DATASET [TABLE] [LOCATION]
# Then run the service with CREDIT_LOG=bigquery://PROJECT/DATASET/TABLE.
set -euo pipefail
PROJECT=${1:?project}; DATASET=${2:?dataset}; TABLE=${3:-predictions}; LOCATION=${4:-EU}
HERE=$(cd "$(dirname "$0")" && pwd)
bq --project_id="$PROJECT" --location="$LOCATION" mk --dataset --force "$PROJECT:$DATASET" || true
bq --project_id="$PROJECT" mk --table \
  --time_partitioning_type=DAY --time_partitioning_field=ts \
  --clustering_fields=model_version \
  --description="credit serve prediction log: one row per answered prediction" \
  "$PROJECT:$DATASET.$TABLE" "$HERE/predictions.schema.json"
# The Cloud Run service account needs roles/bigquery.dataEditor on the dataset, e.g.:
#   bq add-iam-policy-binding --member=serviceAccount:SA@$PROJECT.iam.gserviceaccount.com \
#     --role=roles/bigquery.dataEditor "$PROJECT:$DATASET"
