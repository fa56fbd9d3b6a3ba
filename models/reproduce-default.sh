#!/usr/bin/env bash
# Rebuild models/default-2026.11 from generated data (deterministic: fixed seed and date).
# Takes about 5 minutes on 2 cores. Usage: bash models/reproduce-default.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/default-2026.11}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export CORRECTIONS_DATABASE_URL="sqlite:///$WORK/risk.db"
export CORRECTIONS_INSTANCE_PATH="$WORK"
export CORRECTIONS_SECRET_KEY=${CORRECTIONS_SECRET_KEY:-reproduce-default-model-0123456789-0123}
C=${CORRECTIONS:-.venv/bin/corrections}
"$C" db upgrade
"$C" demo seed --persons 20000 --seed 20261127 --history-months 24 --as-of 2026-11-28 >/dev/null
"$C" risk export --from 2025-06-01 --to 2026-08-29 --every 30d --out "$WORK/snapshots.parquet"
rm -rf "$OUT"
"$C" risk train --table "$WORK/snapshots.parquet" --label lost_contact_90d \
  --drop subject --drop gender \
  --group gender_group --group age_group --group juvenile_group --group district \
  --time-column as_of --seed 0 --version default-2026.11 --no-sign --out "$OUT"
