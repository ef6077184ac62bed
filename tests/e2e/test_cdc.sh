#!/usr/bin/env bash
# CDC end to end: Debezium records on a Kafka topic (kcat, as a connector
# writes them: with and without the schema, ops c, r, u, d, a tombstone,
# values that are not change events or that the mapping rejects) consumed
# by `hub360 adapters` through adapters/examples/debezium-inventory.jq.
# The exact events on hub360's topic; the dead letters with their headers;
# the group's offsets committed to the end; a restart consumes only what
# came after, so no event is produced twice; a batch Kafka refuses is
# retried, and left uncommitted by SIGTERM for the next run.
source "$(dirname "$0")/lib.sh"
FIX=$HUB360_SOURCE_DIR/tests/fixtures/vendors

use_brokers
PREFIX=$(sed -n 's/^  topic_prefix: "\(.*\)"$/\1/p' "$WORK/hub360.yaml")
TOPIC="cdc$$-$RANDOM.dbserver1.inventory.customers"
GROUP=hub360.cdc.inventory-$$-$RANDOM
cat >>"$WORK/hub360.yaml" <<YAML
sources:
  - name: inventory
    system: erp
    mapping: $HUB360_SOURCE_DIR/adapters/examples/debezium-inventory.jq
    cdc: {topics: [$TOPIC], group: $GROUP, batch_time: 100ms}
YAML

# produce LINES...: "key|value" records on partition 0 of the CDC topic
# (an empty value is a tombstone).
produce() {
  printf '%s\n' "$@" | kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -K '|' -Z
}
KEY=$(jq -c . "$FIX/debezium_mysql_customers_key_docs.json")
CREATE=$FIX/debezium_mysql_customers_create_value_docs.json
produce \
  "$KEY|$(jq -c . "$CREATE")" \
  "{\"id\":1001}|$(jq -c '.payload | .op = "r" | .after = {id: 1001, first_name: "Sally",
      last_name: "Thomas", email: "sally.thomas@acme.com"}' "$CREATE")" \
  "{\"id\":1004}|$(jq -c . "$FIX/debezium_mysql_customers_update_noschema_handmade_docs_shape.json")" \
  '{"id":1004}|{"before": ' \
  "{\"id\":1004}|$(jq -c . "$FIX/debezium_mysql_customers_delete_noschema_handmade_docs_shape.json")" \
  '{"id":1004}|' \
  '{"id":7}|{"hello":"world"}' \
  "{\"id\":1005}|$(jq -c '.payload.after.id = null | .payload.source.pos = 900' "$CREATE")"
ok "8 Debezium records on $TOPIC"

# start_adapters NAME [CONFIG]: runs `hub360 adapters` until it says it
# runs.
start_adapters() {
  "$HUB360" adapters -c "${2:-$WORK/hub360.yaml}" --listen 127.0.0.1:0 \
    >"$WORK/$1.out" 2>"$WORK/$1.err" &
  ADAPTERS=$!
  PIDS+=($ADAPTERS)
  wait_for_or_exit 30 "$ADAPTERS" grep -q '^adapters: 1 running' "$WORK/$1.out" ||
    fail "hub360 adapters exited: $(cat "$WORK/$1.err")"
}
stop_adapters() {
  kill -TERM "$ADAPTERS"
  wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"
}
# events: the CDC events on hub360's erp topic, without ingested_at.
events() {
  "$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 20s |
    jq -c 'del(.ingested_at)'
}
have_events() { [ "$(events | wc -l)" -ge "$1" ]; }
dead_letters() {
  kcat -C -b "$BOOTSTRAP" -t "${PREFIX}deadletter" -o beginning -e -q \
    -f '%k %s [%h]\n'
}
have_dead_letters() { [ "$(dead_letters | wc -l)" -ge "$1" ]; }

start_adapters first
wait_for 60 have_events 3
wait_for 30 have_dead_letters 3
stop_adapters
ok "hub360 adapters stops on SIGTERM after its batch"

# Event ids: UUIDv5 in hub360's namespace of "inventory/<dbz_id>", i.e.
# of "inventory/inventory.customers/<id>/<binlog file:pos:row>".
ANNE='"identities":[{"kind":"email","value":"annek@noanswer.org"},{"kind":"erp_customer","value":"inventory:1004"}]'
SALLY='"identities":[{"kind":"email","value":"sally.thomas@acme.com"},{"kind":"erp_customer","value":"inventory:1001"}]'
SRC='"system":"inventory","kind":"erp","entity_type":"customer"'
UPSERTED='"type":"erp.customer.upserted"'
EXPECTED='{"event_id":"4f90eac4-621e-5bb1-8aaf-3c987c48b09e",'$UPSERTED',"occurred_at":"2017-02-07T20:49:37.691Z","source":{'$SRC',"entity_id":"1004"},'$ANNE',"payload":{"first_name":"Anne","last_name":"Kretchmar"},"sequence":12884902042}
{"event_id":"160a6a30-e267-55ef-891b-12b46ddde8c4",'$UPSERTED',"occurred_at":"2017-02-07T20:49:37.691Z","source":{'$SRC',"entity_id":"1001"},'$SALLY',"payload":{"first_name":"Sally","last_name":"Thomas"},"sequence":12884902042}
{"event_id":"bf05197d-7b0c-5278-b484-077e10d9ea40",'$UPSERTED',"occurred_at":"2017-02-07T21:04:46Z","source":{'$SRC',"entity_id":"1004"},'$ANNE',"payload":{"first_name":"Anne Marie","last_name":"Kretchmar"},"sequence":12884902252}'
events | sort >"$WORK/events"
expect_eq "c (with the schema), r and u (without) became the events; d and the tombstone nothing" \
  "$(cat "$WORK/events")" "$(sort <<<"$EXPECTED")"

T=$TOPIC
expect_eq "the dead letters carry the record and say why, where from" \
  "$(dead_letters | sort)" \
  "$(sort <<<"{\"id\":1004} {\"before\":  [error=not JSON: invalid JSON at column 11: unexpected token near end of file,topic=$T,partition=0,offset=3]
{\"id\":7} {\"hello\":\"world\"} [error=not a Debezium change event: no \"op\",topic=$T,partition=0,offset=6]
{\"id\":1005} $(jq -c '.payload.after.id = null | .payload.source.pos = 900' "$CREATE") [error=mapping: event 1 (erp.customer.upserted): source.entity_id: expected string, got null,topic=$T,partition=0,offset=7]")"
grep -q 'source inventory: stopped after 8 records: 3 events, 1 tombstones skipped, 3 dead letters' \
  "$WORK/first.err" || fail "the counts at stop: $(grep stopped "$WORK/first.err")"
ok "the tombstone was skipped and counted"

# A restart consumes what came after, and only that.
produce "{\"id\":1001}|$(jq -c '.payload | .op = "u" | .before = null
  | .after = {id: 1001, first_name: "Sally", last_name: "Thomas-Ito", email: "sally.thomas@acme.com"}
  | .source.pos = 1200 | .source.ts_sec = 1486502000' "$CREATE")"
start_adapters second
wait_for 60 have_events 4
stop_adapters
events | sort >"$WORK/events2"
expect_eq "after a restart: the new change once, nothing before it again" \
  "$(comm -13 "$WORK/events" "$WORK/events2")" \
  '{"event_id":"3f89cb14-3d4f-5243-a128-9efb825fcbff",'$UPSERTED',"occurred_at":"2017-02-07T21:13:20Z","source":{'$SRC',"entity_id":"1001"},'$SALLY',"payload":{"first_name":"Sally","last_name":"Thomas-Ito"},"sequence":12884903088}'
expect_eq "no event id twice" "$(jq -r .event_id "$WORK/events2" | sort | uniq -d)" ""
expect_eq "no dead letter twice" "$(dead_letters | wc -l)" "3"
grep -q 'source inventory: stopped after 1 records: 1 events, 0 tombstones skipped, 0 dead letters' \
  "$WORK/second.err" || fail "the second run's counts: $(grep stopped "$WORK/second.err")"
ok "the second run consumed the one new record (the first committed up to it)"

# A batch Kafka refuses (a dead letter over message.max.bytes) is
# produced again after a pause until SIGTERM, which leaves it uncommitted:
# the next run consumes it again. The batch after it (one record a batch
# here) may be consumed and mapped meanwhile, but is never produced ahead
# of it, and nothing of either is counted as committed.
sed -e "s/^  topic_prefix:/  properties: {message.max.bytes: \"1500\"}\n&/" \
  -e "s/$TOPIC/$TOPIC.big/; s/group: $GROUP/group: $GROUP.big/" \
  -e "s/batch_time: 100ms}/batch_time: 100ms, batch_records: 1}/" \
  "$WORK/hub360.yaml" >"$WORK/big.yaml"
TOPIC=$TOPIC.big produce "{\"id\":1}|$(head -c 2000 /dev/zero | tr '\0' x)" \
  "{\"id\":1002}|$(jq -c '.payload | .op = "u" | .before = null
    | .after = {id: 1002, first_name: "George", last_name: "Held-Back", email: "gbailey@foobar.com"}
    | .source.pos = 1300' "$CREATE")"
retried() { [ "$(grep -c 'producing it again' "$WORK/$1.err")" -ge "$2" ]; }
# held_back: the events on hub360's erp topic (the runs above made some),
# and how many of them carry the record after the refused one.
held_back() {
  events >"$WORK/held"
  [ "$(wc -l <"$WORK/held")" -ge 4 ] || fail "the erp topic lost its events: $(cat "$WORK/held")"
  HELD=$(grep -c 'Held-Back' "$WORK/held" || true)
}
start_adapters big1 "$WORK/big.yaml"
wait_for 30 retried big1 2
stop_adapters
grep -q 'left a batch of 1 records uncommitted: producing to .*deadletter: Broker: Message size too large' \
  "$WORK/big1.err" || fail "the refused batch: $(grep -v '\[kafka\]' "$WORK/big1.err")"
held_back
expect_eq "the batch after the refused one was not produced" "$HELD" "0"
grep -q 'source inventory: stopped after 0 records: 0 events, 0 tombstones skipped, 0 dead letters, 0 batches committed' \
  "$WORK/big1.err" || fail "the refused run's counts: $(grep stopped "$WORK/big1.err")"
ok "a refused batch is retried, and SIGTERM leaves it uncommitted"
start_adapters big2 "$WORK/big.yaml"
wait_for 30 retried big2 1
stop_adapters
held_back
expect_eq "nor by the next run" "$HELD" "0"
ok "the next run consumes it again"

# A batch of several hundred records (mapped on every core, adapters/cdc/
# cdc.c): every record's event, each carrying its own row, in the order of
# the changes per row; the bad records in between to the dead-letter topic.
sed -e "s/$TOPIC/$TOPIC.many/; s/group: $GROUP/group: $GROUP.many/" \
  "$WORK/hub360.yaml" >"$WORK/many.yaml"
seq 1 600 | jq -c --slurpfile c "$CREATE" '. as $i
  | if $i % 97 == 0 then "{\"id\":\(1000 + $i % 40)}|{\"op\":\"u\"}"
    else "{\"id\":\(1000 + $i % 40)}|" + ($c[0].payload | .op = "u" | .before = null
      | .after = {id: (1000 + $i % 40), first_name: "F", last_name: "L\($i)",
                  email: "c\($i % 40)@example.com"}
      | .source.pos = 10000 + $i | tojson) end' -r >"$WORK/many.txt"
kcat -P -b "$BOOTSTRAP" -t "$TOPIC.many" -p 0 -K '|' -l "$WORK/many.txt"
many_events() {
  "$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 20s |
    jq -c 'select(.payload.last_name // "" | startswith("L"))'
}
have_many() { [ "$(many_events | wc -l)" -ge 594 ]; }
start_adapters many "$WORK/many.yaml"
wait_for 60 have_many
stop_adapters
many_events >"$WORK/many-events"
expect_eq "600 records, 6 of them bad: 594 events, each with its own row" \
  "$(jq -r '(.payload.last_name | ltrimstr("L") | tonumber) as $i
      | if .source.entity_id == "\(1000 + $i % 40)"
           and (.identities[0].value == "c\($i % 40)@example.com") then "ok" else "wrong \($i)" end' \
      "$WORK/many-events" | sort | uniq -c | sed 's/^ *//')" "594 ok"
expect_eq "each row's changes in the order they were made" \
  "$(jq -r '"\(.source.entity_id) \(.payload.last_name | ltrimstr("L"))"' "$WORK/many-events" |
     awk '$2 + 0 <= last[$1] { bad++ } { last[$1] = $2 + 0 } END { print bad + 0 }')" "0"
grep -q 'source inventory: stopped after 600 records: 594 events, 0 tombstones skipped, 6 dead letters' \
  "$WORK/many.err" || fail "the counts: $(grep stopped "$WORK/many.err")"
ok "the bad records went to the dead-letter topic, the rest through"

# Those changes share occurred_at (MySQL's ts_ms is whole seconds; here
# every one has the tutorial's ts_ms), so only the envelope's sequence
# (dbz_sequence: the binlog position) says which change of a row came
# last. Projected, every row shows its last good change, whatever the
# hashes of their event ids say: rows 1010-1039 (1001 and 1004 have
# later changes of their own above), each changed 14 or 15 times.
"$HUB360" project -c "$WORK/hub360.yaml" --once >"$WORK/project.out" 2>"$WORK/project.err" ||
  fail "hub360 project: $(cat "$WORK/project.err")"
"$HUB360" export -c "$WORK/hub360.yaml" |
  jq -r '(.members | map(select(.entity_type == "customer"))[0].entity_id // "") as $id
    | select(($id | tonumber? // 0) as $n | $n >= 1010 and $n <= 1039)
    | "\($id) \(.profile.name.value)"' | sort >"$WORK/last-names"
expect_eq "each row's view holds its last change" "$(cat "$WORK/last-names")" \
  "$(for k in $(seq 10 39); do
       i=$(( k + 40 * ((600 - k) / 40) )); [ $((i % 97)) = 0 ] && i=$((i - 40))
       echo "$((1000 + k)) F L$i"
     done)"
ok "the last change of a row wins a tie of occurred_at (the sequence)"
# and its timeline lists them newest first in that order too, not in the
# order of their event ids' hashes
expect_eq "a row's timeline lists its changes of one instant by their sequence" \
  "$("$HUB360" get -c "$WORK/hub360.yaml" --timeline --limit 100 erp_customer:inventory:1012 |
     jq -r --slurpfile m "$WORK/many-events" '($m | map({(.event_id): .payload.last_name}) | add) as $name
       | .items[] | $name[.event_id] // empty | "F \(.)"' | tr '\n' ' ')" \
  "$(for i in $(seq 12 40 600 | sort -rn); do [ $((i % 97)) = 0 ] || printf 'F L%s ' "$i"; done)"
# paged by 4, through cursors that carry the sequence, the same list
tl() { "$HUB360" get -c "$WORK/hub360.yaml" --timeline erp_customer:inventory:1012 "$@"; }
whole=$(tl --limit 100 | jq -c '[.items[].event_id]')
pages=() before=
while :; do
  page=$(tl --limit 4 ${before:+--before "$before"})
  pages+=("$(jq -c '[.items[].event_id]' <<<"$page")")
  before=$(jq -r '.next // empty' <<<"$page")
  [ -n "$before" ] || break
  case "$before" in *-*-*) ;; *) fail "a cursor without the sequence: $before" ;; esac
done
expect_eq "paged through its cursors, the same entries" "$(printf '%s\n' "${pages[@]}" | jq -sc add)" "$whole"
