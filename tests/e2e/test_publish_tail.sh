#!/usr/bin/env bash
# End to end: `hub360 publish` -> broker -> `hub360 tail`, as a user runs
# them, with exact output compared. Runs on the embedded broker, or on a
# real Kafka when HUB360_TEST_KAFKA is set.
source "$(dirname "$0")/lib.sh"
use_brokers
cd "$WORK"
examples="$HUB360_SOURCE_DIR/schemas/examples"
n=$(ls "$examples"/*.json | wc -l)

# every example is published and acknowledged
cat "$examples"/*.json > all.ndjson
"$HUB360" publish --config hub360.yaml all.ndjson > publish.out
expect_eq "publish summary" "$(sed -E 's/, [0-9.]+ s$//' publish.out)" \
  "published $n, rejected 0"

# tail prints exactly the events that went in (order across partitions
# is Kafka's, so compare sorted)
"$HUB360" tail --config hub360.yaml --from-beginning --end > tail.out
sort tail.out > got
sort all.ndjson > want
expect_file_eq "tail prints every event, byte for byte" got want

# --count stops after N, from one topic
"$HUB360" tail --config hub360.yaml --from-beginning --count 2 --timeout 30s scrm > scrm.out
expect_eq "tail --count 2 scrm" "$(wc -l < scrm.out | tr -d ' ')" 2
grep -q '"type":"scrm\.' scrm.out || fail "tail scrm printed a non-scrm event"
ok "tail TOPIC reads only that topic"

# bad lines are reported with their number; good ones still go out
printf '%s\n' \
  "$(cat "$examples/crm.lead.created.json")" \
  '{"type":"crm.lead.exploded"}' \
  'not json' \
  '' \
  "$(sed 's/"amount":[0-9]*/"amount":"12.5"/' "$examples/erp.payment.received.json")" \
  > mixed.ndjson
set +e
"$HUB360" publish --config hub360.yaml mixed.ndjson > mixed.out 2> mixed.err
rc=$?
set -e
expect_eq "publish exits 1 when a line is bad" "$rc" 1
expect_eq "publish reports each bad line" "$(cat mixed.err)" \
'line 2: type: unknown event type "crm.lead.exploded"
line 3: invalid JSON at column 3: '"'"'['"'"' or '"'"'{'"'"' expected near '"'"'not'"'"'
line 5: payload.amount: expected integer, got string "12.5"'
expect_eq "publish counts the good line" "$(sed -E 's/, [0-9.]+ s$//' mixed.out)" \
  "published 1, rejected 3"

# standard input works too, and ingested_at is stamped when missing
sed 's/"ingested_at":"[^"]*",//' "$examples/crm.ticket.opened.json" |
  "$HUB360" publish --config hub360.yaml - > stdin.out
expect_eq "publish from stdin" "$(sed -E 's/, [0-9.]+ s$//' stdin.out)" "published 1, rejected 0"
