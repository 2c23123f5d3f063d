#!/usr/bin/env bash
# CI lane: adpilot against a real WordPress 6.x (Debian's wordpress + mariadb-server + php-cli on
# loopback, see scripts/wordpress-local.sh). Called by .ci/run after `make test` (the venv exists).
# Fails — never skips — when WordPress cannot be started or a test of tests/integration is skipped.
set -euo pipefail
cd "${ADPILOT_REPO:-$PWD}"  # .ci/run calls it from the repository root
[ -x scripts/wordpress-local.sh ] || { echo "ci wordpress lane: run it from the adpilot repository" >&2; exit 1; }
started=$SECONDS

env_file="$(mktemp)"
scripts/wordpress-local.sh start >"$env_file"
# shellcheck disable=SC1090
source "$env_file"
rm -f "$env_file"
trap 'scripts/wordpress-local.sh stop "$ADPILOT_REAL_WP_DIR"' EXIT

# 1. The integration suite; ADPILOT_REQUIRE_REAL_WP turns a missing WordPress into an error.
log="$(mktemp)"
ADPILOT_REQUIRE_REAL_WP=1 .venv/bin/python -m pytest tests/integration -p no:cacheprovider -rs 2>&1 | tee "$log"
if grep -Eq '[0-9]+ skipped|SKIPPED' "$log"; then
    echo "ci wordpress lane: tests were skipped against a real WordPress" >&2
    exit 1
fi
rm -f "$log"

# 2. The operator's view: a wrong application password stops `adpilot maintain` with exit 2, naming it.
repo="$PWD"
scratch="$(mktemp -d)"
set +e
(cd "$scratch" && env -u ADPILOT_CONFIG ADPILOT__WORDPRESS__BASE_URL="$ADPILOT_REAL_WP_URL" \
    ADPILOT__WORDPRESS__USERNAME="$ADPILOT_REAL_WP_USER" WORDPRESS_APP_PASSWORD=wrong \
    "$repo/.venv/bin/adpilot" maintain >"$scratch/out" 2>"$scratch/err")
code=$?
set -e
if [ "$code" -ne 2 ] || ! grep -q WORDPRESS_APP_PASSWORD "$scratch/err"; then
    echo "ci wordpress lane: WORDPRESS_APP_PASSWORD=wrong adpilot maintain exited $code (expected 2 naming the credential)" >&2
    cat "$scratch/out" "$scratch/err" >&2
    exit 1
fi
rm -rf "$scratch"
echo "ci wordpress lane: passed in $((SECONDS - started)) s"
