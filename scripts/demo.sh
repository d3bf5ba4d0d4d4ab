#!/usr/bin/env bash
# `make demo`: runs Relance's main job on the embedded default (SQLite, Prefect's ephemeral API,
# sandbox channels). No account or credential needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export RELANCE_DATABASE_URL=${RELANCE_DATABASE_URL:-sqlite:///demo/relance.db}
mkdir -p demo
exec .venv/bin/relance demo "$@"
