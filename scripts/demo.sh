#!/usr/bin/env bash
# `make demo`: Relance's main job on the embedded default (SQLite, Prefect's ephemeral API,
# sandbox channels): a 2,000-dossier synthetic portfolio, a campaign with a challenger, 60
# simulated days, the campaign summary. Everything the sandbox sent lands in outbox/.
set -euo pipefail
cd "$(dirname "$0")/.."
export RELANCE_DATABASE_URL=${RELANCE_DATABASE_URL:-sqlite:///demo/relance.db}
export RELANCE_OUTBOX_DIR=${RELANCE_OUTBOX_DIR:-outbox}
rm -rf demo && mkdir -p demo
exec .venv/bin/relance demo "$@"
