#!/usr/bin/env bash
# compose.config: compose/ is a valid deployment description.
#
#   tests/compose/config.sh SOURCE_DIR HUB360_BINARY
#
# `docker-compose config -q` (Debian's docker-compose, in
# scripts/deps/test.txt) checks docker-compose.yml with the variables of
# .env.example, builds and pulls nothing; `hub360 check` checks the
# hub360.yaml the containers mount, with the same variables. Both also
# with the registry profile's URL set.
set -euo pipefail
src=${1:?usage: config.sh SOURCE_DIR HUB360_BINARY}
hub360=${2:?usage: config.sh SOURCE_DIR HUB360_BINARY}
dir=$src/compose
command -v docker-compose >/dev/null || {
    echo "compose.config: docker-compose not found: apt-get install -y docker-compose" \
         "(scripts/install-deps --test installs it)" >&2
    exit 1
}

# The variables a deployment sets: .env.example's, nothing from the caller.
mapfile -t vars < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$dir/.env.example")
clean=(env -i PATH="$PATH" HOME="${HOME:-/tmp}")

"${clean[@]}" docker-compose --project-directory "$dir" -f "$dir/docker-compose.yml" \
    --env-file "$dir/.env.example" config -q
"${clean[@]}" docker-compose --project-directory "$dir" -f "$dir/docker-compose.yml" \
    --env-file "$dir/.env.example" --profile registry config -q

# Without an API token the file refuses to start, naming the variable.
partial=$(mktemp)
trap 'rm -f "$partial"' EXIT
grep -v '^HUB360_READ_TOKEN=' "$dir/.env.example" >"$partial"
out=$("${clean[@]}" docker-compose --project-directory "$dir" \
    -f "$dir/docker-compose.yml" --env-file "$partial" config -q 2>&1) && {
    echo "compose.config: docker-compose.yml accepted an empty HUB360_READ_TOKEN" >&2
    exit 1
}
grep -q 'set HUB360_READ_TOKEN in compose/.env' <<<"$out" || {
    echo "compose.config: expected HUB360_READ_TOKEN to be named, got: $out" >&2
    exit 1
}

for registry in "" http://schema-registry:8081; do
    "${clean[@]}" "${vars[@]}" HUB360_SCHEMA_REGISTRY_URL="$registry" \
        HUB360_PROJECTOR_GROUP=hub360-projector-1 \
        "$hub360" check "$dir/hub360.yaml"
done
echo "compose.config: ok"
