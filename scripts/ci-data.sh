#!/usr/bin/env bash
# CI's training data (.github/actions/credit-data): fetches $CREDIT_DATA_URL once into
# ~/credit-data/cs-training.csv.gz (kept gzipped whether the URL serves it plain or gzipped),
# checks the uncompressed CSV against $CREDIT_DATA_SHA256 and exports CREDIT_DATA to the job's
# later steps through $GITHUB_ENV.
set -euo pipefail
: "${CREDIT_DATA_URL:?}" "${CREDIT_DATA_SHA256:?}" "${GITHUB_ENV:?}"
dir="$HOME/credit-data"
mkdir -p "$dir"
f="$dir/cs-training.csv.gz"
if [ ! -f "$f" ]; then
  curl -fsSL --retry 3 -o "$dir/download" "$CREDIT_DATA_URL"
  if gzip -t "$dir/download" 2>/dev/null; then
    mv "$dir/download" "$f"
  else
    gzip -9c "$dir/download" > "$f" && rm "$dir/download"
  fi
fi
got=$(zcat "$f" | sha256sum | cut -d' ' -f1)
if [ "$got" != "$CREDIT_DATA_SHA256" ]; then
  echo "::error::CREDIT_DATA_URL: sha256 of the CSV is $got, expected $CREDIT_DATA_SHA256 (not the Give Me Some Credit cs-training.csv)"
  rm -f "$f"
  exit 1
fi
echo "CREDIT_DATA=$f" >> "$GITHUB_ENV"
