#!/usr/bin/env bash
# docs.configuration: docs/CONFIGURATION.md is what the config tables say
# now (scripts/docs-configuration over `hub360 check --reference`).
#   tests/docs/configuration.sh SOURCE_DIR HUB360_BINARY
set -euo pipefail
src=${1:?usage: configuration.sh SOURCE_DIR HUB360_BINARY}
hub360=${2:?usage: configuration.sh SOURCE_DIR HUB360_BINARY}
if ! "$src/scripts/docs-configuration" "$hub360" |
        diff -u "$src/docs/CONFIGURATION.md" -; then
    echo "docs.configuration: docs/CONFIGURATION.md is out of date; refresh it with" >&2
    echo "  scripts/docs-configuration build/hub360 > docs/CONFIGURATION.md" >&2
    exit 1
fi
echo "docs.configuration: ok"
