#!/usr/bin/env bash
# Every preset maps each of its vendor payloads to exactly the expected
# events, and its polling definitions give exactly the expected values.
#
#   tests/adapters/presets/<preset>/<case>.args             `hub360 map` arguments
#   tests/adapters/presets/<preset>/<case>.expected.ndjson  the events, in order
#   tests/adapters/presets/<preset>/<case>.jq-test          {"expr", "input", "expected"}
#                                  (or "input_text": the input as JSON text)
#
# examples/ holds the cases of the mapping files in adapters/examples/
# (their .args name the file with --mapping).
#
# Events are compared as `hub360 map --raw` prints them (the mapping's own
# output, validated against the schemas) after `jq -cS` on both sides.
# Usage: run_presets.sh HUB360 SOURCE_DIR
set -uo pipefail
HUB360=$1
ROOT=$2
cd "$ROOT"
fails=0 cases=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for args in tests/adapters/presets/*/*.args; do
  cases=$((cases + 1))
  expected=${args%.args}.expected.ndjson
  eval "set -- $(cat "$args")"
  if ! "$HUB360" map --raw --at 2026-11-28T00:00:00Z "$@" >"$work/got" 2>"$work/err"; then
    echo "FAIL $args: hub360 map failed: $(cat "$work/err")"
    fails=$((fails + 1)); continue
  fi
  if ! diff <(jq -cS . "$expected") <(jq -cS . "$work/got") >"$work/diff"; then
    echo "FAIL $args: events differ (< expected, > got)"; cat "$work/diff"
    fails=$((fails + 1))
  fi
done

for t in tests/adapters/presets/*/*.jq-test; do
  cases=$((cases + 1))
  preset=$(basename "$(dirname "$t")")
  expr=$(jq -r .expr "$t")
  input=()
  if [ "$(jq -c .input_text "$t")" != null ]; then
    # the input as text: jq (1.6) would round integers past 2^53
    jq -r .input_text "$t" >"$work/input.json"
    input=("$work/input.json")
  elif [ "$(jq -c .input "$t")" != null ]; then
    jq .input "$t" >"$work/input.json"
    input=("$work/input.json")
  fi
  if ! "$HUB360" map --preset "$preset" --eval "$expr" "${input[@]}" >"$work/got" 2>"$work/err"; then
    echo "FAIL $t: $(cat "$work/err")"
    fails=$((fails + 1)); continue
  fi
  if ! diff <(jq -cS .expected "$t") <(jq -cS . "$work/got") >"$work/diff"; then
    echo "FAIL $t: values differ (< expected, > got)"; cat "$work/diff"
    fails=$((fails + 1))
  fi
done

# Every preset the binary knows has cases.
for p in hubspot salesforce zendesk shopify odoo erpnext wechat weibo meta mention; do
  ls tests/adapters/presets/"$p"/*.args >/dev/null 2>&1 ||
    { echo "FAIL preset $p has no cases"; fails=$((fails + 1)); }
done
echo "$cases cases, $fails failed"
[ "$fails" -eq 0 ]
