#!/usr/bin/env bash
# `hub360 import`: a CSV export (quotes, embedded commas and quotes, CRLF)
# and an NDJSON one, each through its source's mapping onto Kafka; bad
# rows reported by line while the rest go; re-importing produces the
# same event ids; rows and headers the CSV reader refuses.
source "$(dirname "$0")/lib.sh"
DATA=$HUB360_SOURCE_DIR/tests/e2e/data
FIX=$HUB360_SOURCE_DIR/tests/fixtures/vendors

use_brokers
cat >>"$WORK/hub360.yaml" <<YAML
sources:
  - name: erp1
    system: erp
    mapping: $DATA/customers.jq
  - name: listening
    system: scrm
    preset: mention
YAML

set +e
"$HUB360" import -c "$WORK/hub360.yaml" --source erp1 "$DATA/customers.csv" >"$WORK/out" 2>"$WORK/err"
code=$?
set -e
expect_eq "a CSV import with bad rows exits 1" "$code" "1"
expect_eq "the summary counts the rows" "$(cat "$WORK/out")" \
  "imported 4 records (4 events), rejected 2"
expect_eq "each rejected row is named by its line" "$(grep "^line " "$WORK/err")" \
"line 5: event 1 (erp.customer.upserted): occurred_at: expected RFC 3339 time string, got string \"not-a-time\" (expected an RFC 3339 time like 2026-03-14T09:26:53Z)
line 6: 3 values for 5 columns"

"$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 30s >"$WORK/erp1.ndjson"
expect_eq "the CSV values arrive as written (quotes, commas)" \
  "$(jq -r '[.source.entity_id, .payload.first_name, .payload.last_name, (.identities | map(.value) | join(" "))] | join("|")' "$WORK/erp1.ndjson" | sort)" \
"1|Ann|Li|ann.li@example.com +8613800138000
2|Bob|\"B\" Norman|bob@example.com
3|Chen,|Wei|chen@example.com +86 138 0013 8001
6|Fay|Wong|fay@example.com"

"$HUB360" import -c "$WORK/hub360.yaml" --source listening "$FIX/mention_feed_export_docs_shape.ndjson" >"$WORK/out2"
expect_eq "an NDJSON import maps every line" \
  "$(sed 's/ (.*//' "$WORK/out2")" "imported $(grep -c . "$FIX/mention_feed_export_docs_shape.ndjson") records"

# The same files again: the same event ids, so nothing new downstream.
set +e
"$HUB360" import -c "$WORK/hub360.yaml" --source erp1 "$DATA/customers.csv" >/dev/null 2>&1
code=$?
set -e
expect_eq "the re-import exits 1 again, for the same bad rows" "$code" "1"
"$HUB360" import -c "$WORK/hub360.yaml" --source listening "$FIX/mention_feed_export_docs_shape.ndjson" >/dev/null
"$HUB360" tail -c "$WORK/hub360.yaml" erp scrm --from-beginning --end --timeout 30s >"$WORK/all.ndjson"
expect_eq "a re-import repeats every event id exactly" \
  "$(jq -r .event_id "$WORK/all.ndjson" | sort | uniq -c | awk '{print $1}' | sort -u)" "2"

set +e
"$HUB360" import -c "$WORK/hub360.yaml" --source nope "$DATA/customers.csv" 2>"$WORK/err3"
code=$?
set -e
expect_eq "an unknown source is a usage error" "$code:$(head -n1 "$WORK/err3")" \
  "2:hub360 import: no source named 'nope' in $WORK/hub360.yaml"

# Rows the CSV reader refuses, each by line and column, the rest still
# imported (hub/csv.c); a header naming a column twice stops the import.
printf 'id,name,email,phone,updated\n7,Gil\xff,g@example.com,,2026-03-07T00:00:00Z\n8,Hu,h@example.com,,2026-03-08T00:00:00Z\n9,"open,x,,\n' >"$WORK/bad.csv"
set +e
"$HUB360" import -c "$WORK/hub360.yaml" --source erp1 "$WORK/bad.csv" >"$WORK/out4" 2>"$WORK/err4"
code=$?
set -e
expect_eq "bad CSV rows are counted and the good one imported" "$code:$(cat "$WORK/out4")" \
  "1:imported 1 records (1 events), rejected 2"
expect_eq "each bad CSV row is named by line and column" "$(grep "^line " "$WORK/err4")" \
"line 2: column 2 (name): the value is not UTF-8 (byte 4)
line 4: a quoted value is never closed"
printf 'id,name,id\n1,a,2\n' >"$WORK/twice.csv"
set +e
"$HUB360" import -c "$WORK/hub360.yaml" --source erp1 "$WORK/twice.csv" >/dev/null 2>"$WORK/err5"
code=$?
set -e
expect_eq "a header naming a column twice stops the import" "$code:$(grep -o 'line 1: .*' "$WORK/err5")" \
  "1:line 1: the header row: column 3: \"id\" names column 1 too"

# A file of several windows (hub/cmd_import.c maps 1,024 records at a
# time on every core): rejections still come by line, in file order, and
# each event is its own record's, whichever thread mapped it.
awk 'BEGIN {
  for (i = 1; i <= 3000; i++) {
    if (i == 7 || i == 2999) { print "{\"id\": \"bw-" i "\","; continue }
    t = i == 1500 ? "not-a-time" : sprintf("2026-03-%02dT10:00:%02d.%03dZ", i % 28 + 1, i % 60, i % 1000)
    printf "{\"id\":\"bw-%d\",\"platform\":\"weibo\",\"author_handle\":\"@fan%d\",\"author_name\":\"Fan %d\",\"text\":\"t%d\",\"url\":\"https://example.com/%d\",\"language\":\"zh\",\"sentiment\":0.5,\"created_at\":\"%s\"}\n", i, i, i, i, i, t
  }
}' >"$WORK/many.ndjson"
set +e
"$HUB360" import -c "$WORK/hub360.yaml" --source listening "$WORK/many.ndjson" >"$WORK/out6" 2>"$WORK/err6"
code=$?
set -e
expect_eq "a file of three windows: its bad lines counted" "$code:$(cat "$WORK/out6")" \
  "1:imported 2997 records (2997 events), rejected 3"
expect_eq "its bad lines named in file order" "$(grep -o '^line [0-9]*' "$WORK/err6" | tr '\n' ' ')" \
  "line 7 line 1500 line 2999 "
"$HUB360" tail -c "$WORK/hub360.yaml" scrm --from-beginning --end --timeout 30s >"$WORK/many-out.ndjson"
expect_eq "each of its events carries its own record's handle and text" \
  "$(jq -r 'select(.source.entity_id | startswith("bw-")) | (.source.entity_id | ltrimstr("bw-")) as $i
      | if .identities[0].value == "weibo:fan\($i)" and .payload.text == "t\($i)" then "ok" else "wrong \($i)" end' \
      "$WORK/many-out.ndjson" | sort | uniq -c | sed 's/^ *//')" "2997 ok"
