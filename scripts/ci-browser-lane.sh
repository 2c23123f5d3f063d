#!/usr/bin/env bash
# CI lane: the console in a real headless Chromium (Debian's chromium, driven by Playwright, which
# `make test` installs with the dev extra). Called by .ci/run after `make test` (the venv exists).
# Installs Chromium when it is missing (needs root, or sudo), then runs tests/e2e with ADPILOT_E2E=1:
# a missing browser fails the lane, and so does a run that collected no test (pytest's exit 5).
# Screenshots of every page land in reports/screenshots/.
set -euo pipefail
cd "${ADPILOT_REPO:-$PWD}"  # .ci/run calls it from the repository root
[ -d tests/e2e ] || { echo "ci browser lane: run it from the adpilot repository" >&2; exit 1; }
started=$SECONDS

if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq chromium >/dev/null
fi
[ -x /usr/bin/chromium ] || { echo "ci browser lane: /usr/bin/chromium is missing after apt-get install chromium" >&2; exit 1; }

set +e
ADPILOT_E2E=1 .venv/bin/python -m pytest tests/e2e -p no:randomly -p no:cacheprovider -q
code=$?
set -e
if [ "$code" -eq 5 ]; then
    echo "ci browser lane: pytest collected no test in tests/e2e" >&2
    exit 1
fi
if [ "$code" -ne 0 ]; then
    echo "ci browser lane: tests/e2e failed (pytest exit $code)" >&2
    exit "$code"
fi
echo "ci browser lane: passed in $((SECONDS - started)) s; screenshots in reports/screenshots/"
