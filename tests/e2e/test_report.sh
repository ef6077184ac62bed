#!/usr/bin/env bash
# End to end: the daily report as a user reads it. The scripted scenario
# (tests/fixtures/report) goes in with `hub360 publish`; `hub360 report`
# and GET /v1/metrics/daily answer exactly the fixtures, as JSON and CSV,
# by UTC day and by business day (Asia/Shanghai); bad ranges are refused
# with their reason. Generated events projected by a projector killed
# with -9 again and again give the report of an uninterrupted run, and
# the same events shuffled over 5 partitions give it too. Runs on the
# embedded broker, or on a real Kafka with HUB360_TEST_KAFKA.
source "$(dirname "$0")/lib.sh"
use_brokers
cd "$WORK"
command -v curl >/dev/null || fail "curl is needed"
FIX="$HUB360_SOURCE_DIR/tests/fixtures/report"

prefix=$(sed -n 's/^  topic_prefix: "\(.*\)"$/\1/p' hub360.yaml)
shanghai="reporting:
  time_zone: Asia/Shanghai"
config s "$prefix" 3 "$shanghai"

# --- the scenario: hub360 report ---------------------------------------
"$HUB360" publish -c s.yaml "$FIX/events.ndjson" > /dev/null
"$HUB360" project -c s.yaml --once 2> s.err || { cat s.err >&2; fail "project the scenario"; }
range=(--from 2026-03-08 --to 2026-03-11)
"$HUB360" report -c s.yaml "${range[@]}" > utc.json
"$HUB360" report -c s.yaml "${range[@]}" --tz business > business.json
"$HUB360" report -c s.yaml "${range[@]}" --format csv > utc.csv
"$HUB360" report -c s.yaml "${range[@]}" --format csv --tz business > business.csv
expect_file_eq "report: UTC days as JSON" utc.json "$FIX/daily-utc.json"
expect_file_eq "report: business days as JSON" business.json "$FIX/daily-business.json"
expect_file_eq "report: UTC days as CSV" utc.csv "$FIX/daily-utc.csv"
expect_file_eq "report: business days as CSV" business.csv "$FIX/daily-business.csv"
documented=$(awk '/^The columns, in this order/{f=1; next} f && /^`/{p=1} p{print} p && /`$/{exit}' \
  "$HUB360_SOURCE_DIR/projections/README.md" | tr -d '`\n' | sed 's/, */,/g')
expect_eq "the CSV header is the one projections/README.md documents" \
  "$(head -n1 utc.csv | tr -d '\r')" "$documented"
expect_eq "report: --to defaults to --from" \
  "$("$HUB360" report -c s.yaml --from 2026-03-10 --format csv | tail -n1)" \
  "$(grep '^2026-03-10,' "$FIX/daily-utc.csv")"

usage() { # usage EXPECTED-MESSAGE ARGS...: exit 2 with the message
  local want=$1; shift
  set +e
  "$HUB360" report -c s.yaml "$@" > /dev/null 2> usage.err
  local rc=$?
  set -e
  expect_eq "report $*: exit 2" "$rc" 2
  grep -qF -- "$want" usage.err || fail "report $*: expected \"$want\" in: $(cat usage.err)"
}
usage "--from: expected a date YYYY-MM-DD from 1970 on, got \"2026-13-01\"" --from 2026-13-01
usage "--to 2026-03-01 is before --from 2026-03-02" --from 2026-03-02 --to 2026-03-01
usage "--from: missing (YYYY-MM-DD)" --to 2026-03-01
usage "--tz: expected utc or business, got \"local\"" --from 2026-03-01 --tz local
usage "--format: expected json or csv, got \"xml\"" --from 2026-03-01 --format xml

# --- the same through the API --------------------------------------------
serve s.yaml
q="from=2026-03-08&to=2026-03-11"
get() { curl -sS -o body -w '%{http_code} %{content_type}' "$@"; }
expect_eq "API JSON: status" "$(get "$API/v1/metrics/daily?$q")" "200 application/json"
expect_eq "API JSON: the report's bytes" "$(cat body)" "$(cat "$FIX/daily-utc.json")"
expect_eq "API business JSON" "$(get "$API/v1/metrics/daily?$q&tz=business"; echo; cat body)" \
  "200 application/json
$(cat "$FIX/daily-business.json")"
expect_eq "API CSV by format=csv: status" "$(get "$API/v1/metrics/daily?$q&format=csv")" \
  "200 text/csv; charset=utf-8"
expect_file_eq "API CSV by format=csv" body "$FIX/daily-utc.csv"
get -H 'Accept: text/csv' "$API/v1/metrics/daily?$q&tz=business" > /dev/null
expect_file_eq "API CSV by Accept: text/csv, business days" body "$FIX/daily-business.csv"
bad() { # bad QUERY MESSAGE
  expect_eq "API $1: 400" "$(get "$API/v1/metrics/daily?$1")" "400 application/json"
  expect_eq "API $1: the reason" "$(cat body)" \
    "{\"error\":{\"code\":\"bad_parameter\",\"message\":\"$2\"}}"
}
bad "from=2026-02-30&to=2026-03-01" 'from: expected a date YYYY-MM-DD from 1970 on, got \"2026-02-30\"'
bad "from=2026-03-02&to=2026-03-01" "to 2026-03-01 is before from 2026-03-02"
bad "from=2016-01-01&to=2026-03-01" "from..to spans 3713 days; at most 3660 in one report"
bad "to=2026-03-01" "from: missing (YYYY-MM-DD)"
bad "$q&tz=local" 'tz: expected utc or business, got \"local\"'
bad "$q&format=xml" 'format: expected json or csv, got \"xml\"'
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

# --- the zone: checked at load; a change is logged ---------------------------
printf 'reporting:\n  time_zone: Mars/Olympus\n' > badzone.yaml
set +e; "$HUB360" check badzone.yaml > /dev/null 2> badzone.err; rc=$?; set -e
expect_eq "check: an unknown zone fails" "$rc" 1
expect_eq "check: the file, line and key at fault" "$(cat badzone.err)" \
  "badzone.yaml:2: reporting.time_zone: no time zone Mars/Olympus (/usr/share/zoneinfo/Mars/Olympus: No such file or directory; is the tzdata package installed?)"
sed 's|time_zone: Asia/Shanghai|time_zone: Europe/Berlin|' s.yaml > berlin.yaml
"$HUB360" project -c berlin.yaml --once 2> berlin.err || { cat berlin.err >&2; fail "project berlin"; }
grep -qF "the store's business days were counted in Asia/Shanghai; reporting.time_zone is now Europe/Berlin" berlin.err ||
  fail "a changed zone is not logged: $(cat berlin.err)"
ok "a changed zone is logged with its hint"
expect_eq "the report names the zone the store now counts in" \
  "$("$HUB360" report -c berlin.yaml --from 2026-03-08 --tz business | head -c 40)" \
  '{"time_zone":"Europe/Berlin","from":"202'

# --- kill -9, and another order ------------------------------------------
config a "${prefix}a." 3 "$shanghai"
config b "${prefix}b." 5 "$shanghai"
config c "${prefix}c." 2 "$shanghai
projector:
  batch_events: 200
  sync: false"
"$HUB360" generate --events 8000 --people 1200 --seed 9 --duplicates 3 --control 2 > events.ndjson
shuf --random-source=<(yes) events.ndjson > shuffled.ndjson
"$HUB360" publish -c a.yaml events.ndjson > /dev/null
"$HUB360" publish -c b.yaml shuffled.ndjson > /dev/null
"$HUB360" publish -c c.yaml events.ndjson > /dev/null
reports() { # reports CONFIG: both zones, as CSV, over the generator's days
  "$HUB360" report -c "$1" --from 2025-12-01 --to 2026-12-31 --format csv
  "$HUB360" report -c "$1" --from 2025-12-01 --to 2026-12-31 --format csv --tz business
}
"$HUB360" project -c a.yaml --once 2> a.err || { cat a.err >&2; fail "project a"; }
reports a.yaml > a.csv
[ "$(awk -F, 'NR > 1 && $2 > 0' a.csv | wc -l)" -gt 30 ] || fail "few days with leads: $(head -c 600 a.csv)"
"$HUB360" project -c b.yaml --once 2> b.err || { cat b.err >&2; fail "project b"; }
reports b.yaml > b.csv
expect_file_eq "shuffled over 5 partitions: the same report" b.csv a.csv

kill_mid_run c.yaml
reports c.yaml > c.csv
expect_file_eq "killed $KILLS times with -9: the report of an uninterrupted run" c.csv a.csv
