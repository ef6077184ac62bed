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

# map_case FILE.args / eval_case FILE.jq-test: run one case, print
# "FAIL ..." lines (nothing when it passes) into $work/<case>.out. The
# cases run on every core: each is a process of its own.
map_case() {
  local args=$1 w="$work/${1//\//_}"
  local expected=${args%.args}.expected.ndjson
  eval "set -- $(cat "$args")"
  if ! "$HUB360" map --raw --at 2026-11-28T00:00:00Z "$@" >"$w.got" 2>"$w.err"; then
    echo "FAIL $args: hub360 map failed: $(cat "$w.err")"
  elif ! diff <(jq -cS . "$expected") <(jq -cS . "$w.got") >"$w.diff"; then
    echo "FAIL $args: events differ (< expected, > got)"; cat "$w.diff"
  fi >"$w.out"
}
eval_case() {
  local t=$1 w="$work/${1//\//_}" preset input=()
  preset=$(basename "$(dirname "$t")")
  if [ "$(jq -c .input_text "$t")" != null ]; then
    # the input as text: jq (1.6) would round integers past 2^53
    jq -r .input_text "$t" >"$w.input.json"
    input=("$w.input.json")
  elif [ "$(jq -c .input "$t")" != null ]; then
    jq .input "$t" >"$w.input.json"
    input=("$w.input.json")
  fi
  if ! "$HUB360" map --preset "$preset" --eval "$(jq -r .expr "$t")" "${input[@]}" \
       >"$w.got" 2>"$w.err"; then
    echo "FAIL $t: $(cat "$w.err")"
  elif ! diff <(jq -cS .expected "$t") <(jq -cS . "$w.got") >"$w.diff"; then
    echo "FAIL $t: values differ (< expected, > got)"; cat "$w.diff"
  fi >"$w.out"
}
export -f map_case eval_case
export HUB360 work

files=(tests/adapters/presets/*/*.args tests/adapters/presets/*/*.jq-test)
printf '%s\0' "${files[@]}" |
  xargs -0 -n1 -P "$(nproc)" bash -c 'case "$1" in *.args) map_case "$1" ;; *) eval_case "$1" ;; esac' _
for f in "${files[@]}"; do
  cases=$((cases + 1))
  out="$work/${f//\//_}.out"
  if [ ! -e "$out" ]; then
    echo "FAIL $f: the case did not run"; fails=$((fails + 1))
  elif [ -s "$out" ]; then
    cat "$out"; fails=$((fails + 1))
  fi
done

# Every preset the binary knows has cases.
for p in hubspot salesforce zendesk shopify odoo erpnext wechat weibo meta mention; do
  ls tests/adapters/presets/"$p"/*.args >/dev/null 2>&1 ||
    { echo "FAIL preset $p has no cases"; fails=$((fails + 1)); }
done
echo "$cases cases, $fails failed"
[ "$fails" -eq 0 ]
