#!/usr/bin/env bash
# Deploys `credit serve` to Cloud Run with its prediction log in BigQuery.
#
#   PROJECT_ID=my-project REGION=europe-west1 deploy/cloudrun/deploy.sh [--public] [--dry-run]
#       [--journal memory | --journal nfs --nfs-server HOST --nfs-path /EXPORT
#        [--network NAME] [--subnet NAME]]
#
# The service is private by default: only IAM-authenticated callers with roles/run.invoker may
# call it (a credit-decision API should not be open to the internet). `--public` (or PUBLIC=1)
# grants allUsers the invoker role.
#
# Where the journal in front of BigQuery lives (deploy/cloudrun/RELIABILITY.md has the details):
#   --journal memory  (default) service.yaml: the instance's in-memory filesystem. Bounded by
#                     CREDIT_MAX_PENDING / CREDIT_MAX_PENDING_BYTES (100,000 records, 64 MiB of a
#                     512 MiB instance). SIGTERM drains for up to 4 s; records not yet shipped when
#                     an instance is lost without SIGTERM (crash, OOM kill) are lost.
#   --journal nfs     service-nfs.yaml: one journal per instance on an NFS share (Filestore),
#                     CREDIT_JOURNAL_DIR, fsync on every group commit; a dead instance's journal is
#                     adopted and shipped by another instance. Needs the second-generation
#                     execution environment, Direct VPC egress to the server (--network/--subnet,
#                     default "default"), and an export the container's uid 10001 may write.
#   --journal gcs     refused: Cloud Storage FUSE has no file locking, is not POSIX and re-uploads
#                     a whole object on every fsync of a modified file; SQLite's WAL needs in-place
#                     writes and ordered fsyncs, so a journal there can be corrupted or lose commits.
#
# Steps (each one is idempotent, so the script can be re-run after a failure or for a new image):
#   1. enable the APIs (Cloud Run, Artifact Registry, BigQuery, Cloud Build, IAM)
#   2. BigQuery dataset + day-partitioned table from deploy/bigquery/predictions.schema.json
#   3. a service account that may insert into that dataset (roles/bigquery.dataEditor)
#   4. an Artifact Registry repository, the image built and pushed
#   5. the service from deploy/cloudrun/service.yaml (`gcloud run services replace`)
#
# Settings (environment): PROJECT_ID (required), REGION (europe-west1), SERVICE (credit),
# AR_REPO (credit), BQ_DATASET (credit), BQ_TABLE (predictions), BQ_LOCATION (EU),
# TAG (git short hash), PUBLIC (0, the default: IAM-authenticated only; 1: like --public),
# BUILD: how the image is made
#   cloudbuild  `gcloud builds submit`: the Dockerfile's default target compiles in Cloud Build
#   docker      local `docker build` of the default target (needs crates.io from the build)
#   prebuilt    local `make build`, then `docker build --target runtime-prebuilt` (the host's glibc
#               must not be newer than Debian bookworm's)
# DRY_RUN=1 (or --dry-run) prints the commands and the rendered manifest instead of running them.
# JOURNAL, NFS_SERVER, NFS_PATH, VPC_NETWORK, VPC_SUBNET: like the flags of the same names.
# Needs: gcloud (with bq) logged in (`gcloud auth login`), make + the repo's toolchain for the page,
# docker for BUILD=docker|prebuilt.
set -euo pipefail

PUBLIC=${PUBLIC:-0}
DRY_RUN=${DRY_RUN:-0}
JOURNAL=${JOURNAL:-memory}
NFS_SERVER=${NFS_SERVER:-}
NFS_PATH=${NFS_PATH:-}
VPC_NETWORK=${VPC_NETWORK:-default}
VPC_SUBNET=${VPC_SUBNET:-default}
usage="flags: --public, --dry-run, --journal memory|nfs, --nfs-server HOST, --nfs-path /EXPORT, --network NAME, --subnet NAME"
# The value of a flag that takes one (refused when missing).
value() {
  if [ "$#" -lt 2 ] || [ -z "$2" ]; then
    echo "deploy.sh: $1 needs a value ($usage)" >&2
    exit 2
  fi
  printf '%s' "$2"
}
while [ "$#" -gt 0 ]; do
  case "$1" in
    --public) PUBLIC=1 ;;
    --dry-run) DRY_RUN=1 ;;
    --journal) JOURNAL=$(value "$@"); shift ;;
    --nfs-server) NFS_SERVER=$(value "$@"); shift ;;
    --nfs-path) NFS_PATH=$(value "$@"); shift ;;
    --network) VPC_NETWORK=$(value "$@"); shift ;;
    --subnet) VPC_SUBNET=$(value "$@"); shift ;;
    *) echo "deploy.sh: unknown argument $1 ($usage)" >&2; exit 2 ;;
  esac
  shift
done
case "$JOURNAL" in
  memory)
    MANIFEST=deploy/cloudrun/service.yaml
    ;;
  nfs)
    MANIFEST=deploy/cloudrun/service-nfs.yaml
    if [ -z "$NFS_SERVER" ] || [ -z "$NFS_PATH" ]; then
      echo "deploy.sh: --journal nfs needs --nfs-server HOST and --nfs-path /EXPORT (e.g. a Filestore instance's IP and file share)" >&2
      exit 2
    fi
    # The values go into the manifest through sed: plain host names, IPs and paths only.
    if ! [[ "$NFS_SERVER" =~ ^[A-Za-z0-9.:-]+$ ]] || ! [[ "$NFS_PATH" =~ ^/[A-Za-z0-9._/-]*$ ]] \
      || ! [[ "$VPC_NETWORK" =~ ^[A-Za-z0-9._/-]+$ ]] || ! [[ "$VPC_SUBNET" =~ ^[A-Za-z0-9._/-]+$ ]]; then
      echo "deploy.sh: --nfs-server must be a host name or IP, --nfs-path an absolute path, --network/--subnet names" >&2
      exit 2
    fi
    ;;
  gcs)
    echo "deploy.sh: --journal gcs is refused: Cloud Storage FUSE has no file locking, is not a POSIX file system and re-uploads the whole object on every fsync or close of a modified file, while SQLite's WAL needs in-place writes, ordered fsyncs and a shared-memory index; a journal there can be corrupted or silently lose commits. Use --journal nfs (Filestore) or --journal memory." >&2
    exit 2
    ;;
  *)
    echo "deploy.sh: --journal must be memory or nfs (got $JOURNAL)" >&2
    exit 2
    ;;
esac

: "${PROJECT_ID:?set PROJECT_ID to your Google Cloud project id}"
REGION=${REGION:-europe-west1}
SERVICE=${SERVICE:-credit}
AR_REPO=${AR_REPO:-credit}
BQ_DATASET=${BQ_DATASET:-credit}
BQ_TABLE=${BQ_TABLE:-predictions}
BQ_LOCATION=${BQ_LOCATION:-EU}
BUILD=${BUILD:-cloudbuild}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TAG=${TAG:-$(git rev-parse --short HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)}
IMAGE="$REGION-docker.pkg.dev/$PROJECT_ID/$AR_REPO/credit:$TAG"
SA_NAME=${SA_NAME:-credit-serve}
SERVICE_ACCOUNT="$SA_NAME@$PROJECT_ID.iam.gserviceaccount.com"
SCHEMA=deploy/bigquery/predictions.schema.json

# Runs a command, or only prints it with DRY_RUN=1.
run() {
  { printf '+'; printf ' %q' "$@"; printf '\n'; } >&2
  if [ "$DRY_RUN" != 1 ]; then "$@"; fi
}

# True when a describe/show command finds the resource (always false in a dry run).
exists() {
  [ "$DRY_RUN" != 1 ] && "$@" >/dev/null 2>&1
}

[ -f "$SCHEMA" ] || { echo "missing $SCHEMA" >&2; exit 1; }

echo "== 1. APIs" >&2
run gcloud services enable --project "$PROJECT_ID" \
  run.googleapis.com artifactregistry.googleapis.com bigquery.googleapis.com \
  cloudbuild.googleapis.com iam.googleapis.com

echo "== 2. BigQuery dataset $PROJECT_ID:$BQ_DATASET and table $BQ_TABLE" >&2
if ! exists bq --project_id="$PROJECT_ID" show --dataset "$PROJECT_ID:$BQ_DATASET"; then
  run bq --project_id="$PROJECT_ID" --location="$BQ_LOCATION" mk --dataset \
    --description "credit serve prediction log" "$PROJECT_ID:$BQ_DATASET"
fi
if ! exists bq --project_id="$PROJECT_ID" show "$PROJECT_ID:$BQ_DATASET.$BQ_TABLE"; then
  run bq --project_id="$PROJECT_ID" mk --table \
    --time_partitioning_type=DAY --time_partitioning_field=ts \
    --clustering_fields=model_version \
    --description "credit serve prediction log: one row per answered prediction" \
    "$PROJECT_ID:$BQ_DATASET.$BQ_TABLE" "$SCHEMA"
fi

echo "== 3. service account $SERVICE_ACCOUNT" >&2
if ! exists gcloud iam service-accounts describe "$SERVICE_ACCOUNT" --project "$PROJECT_ID"; then
  run gcloud iam service-accounts create "$SA_NAME" --project "$PROJECT_ID" \
    --display-name "credit serve (Cloud Run)"
fi
# Streaming inserts (tabledata.insertAll) need bigquery.tables.updateData on the table: dataEditor
# on the dataset only, not on the project.
run bq --project_id="$PROJECT_ID" add-iam-policy-binding \
  --member="serviceAccount:$SERVICE_ACCOUNT" --role=roles/bigquery.dataEditor \
  "$PROJECT_ID:$BQ_DATASET"

echo "== 4. image $IMAGE" >&2
if ! exists gcloud artifacts repositories describe "$AR_REPO" --location "$REGION" --project "$PROJECT_ID"; then
  run gcloud artifacts repositories create "$AR_REPO" --project "$PROJECT_ID" \
    --repository-format=docker --location "$REGION" --description "credit serve images"
fi
# The browser page is part of the image (served at / and /gradio).
if [ ! -f web/dist/index.html ]; then
  run make web
  if [ "$DRY_RUN" != 1 ] && [ ! -f web/dist/index.html ]; then
    echo "web/dist/index.html missing after 'make web': the image needs the built page" >&2
    exit 1
  fi
fi
case "$BUILD" in
  cloudbuild)
    # .dockerignore also keeps target/, .venv and data out of the uploaded source.
    run gcloud builds submit --project "$PROJECT_ID" \
      --ignore-file=.dockerignore --tag "$IMAGE" .
    ;;
  docker | prebuilt)
    run gcloud auth configure-docker "$REGION-docker.pkg.dev" --quiet
    if [ "$BUILD" = prebuilt ]; then
      run make build
      run docker build --platform linux/amd64 --target runtime-prebuilt -t "$IMAGE" .
    else
      run docker build --platform linux/amd64 -t "$IMAGE" .
    fi
    run docker push "$IMAGE"
    ;;
  *)
    echo "BUILD must be cloudbuild, docker or prebuilt (got $BUILD)" >&2
    exit 2
    ;;
esac

echo "== 5. Cloud Run service $SERVICE in $REGION (journal: $JOURNAL, $MANIFEST)" >&2
rendered=$(mktemp "${TMPDIR:-/tmp}/credit-service.XXXXXX.yaml")
trap 'rm -f "$rendered"' EXIT
sed -e "s|\${SERVICE}|$SERVICE|g" \
  -e "s|\${SERVICE_ACCOUNT}|$SERVICE_ACCOUNT|g" \
  -e "s|\${IMAGE}|$IMAGE|g" \
  -e "s|\${PROJECT_ID}|$PROJECT_ID|g" \
  -e "s|\${BQ_DATASET}|$BQ_DATASET|g" \
  -e "s|\${BQ_TABLE}|$BQ_TABLE|g" \
  -e "s|\${NFS_SERVER}|$NFS_SERVER|g" \
  -e "s|\${NFS_PATH}|$NFS_PATH|g" \
  -e "s|\${VPC_NETWORK}|$VPC_NETWORK|g" \
  -e "s|\${VPC_SUBNET}|$VPC_SUBNET|g" \
  "$MANIFEST" >"$rendered"
if grep -nE '[$][{][A-Z_]+[}]' "$rendered" >&2; then
  echo "unfilled placeholders in $MANIFEST" >&2
  exit 1
fi
if [ "$DRY_RUN" = 1 ]; then
  cat "$rendered"
fi
run gcloud run services replace "$rendered" --project "$PROJECT_ID" --region "$REGION"
if [ "$PUBLIC" = 1 ]; then
  run gcloud run services add-iam-policy-binding "$SERVICE" --project "$PROJECT_ID" \
    --region "$REGION" --member=allUsers --role=roles/run.invoker
fi

if [ "$DRY_RUN" != 1 ]; then
  url=$(gcloud run services describe "$SERVICE" --project "$PROJECT_ID" --region "$REGION" \
    --format 'value(status.url)')
  echo "deployed: $url" >&2
  seed='{"RevolvingUtilizationOfUnsecuredLines": 0.766, "age": 45, "NumberOfTime30_59DaysPastDueNotWorse": 2,
 "DebtRatio": 0.803, "MonthlyIncome": 9120, "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0,
 "NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0, "NumberOfDependents": 2}'
  echo "try: curl -s -X POST $url/predict -H 'Content-Type: application/json' -d '$seed'" >&2
  echo "log: bq query --use_legacy_sql=false 'SELECT * FROM \`$PROJECT_ID.$BQ_DATASET.$BQ_TABLE\` ORDER BY ts DESC LIMIT 10'" >&2
fi
