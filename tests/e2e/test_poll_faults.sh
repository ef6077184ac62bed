#!/usr/bin/env bash
# Source faults for the poller: the fake vendor (fake_vendor.py) closes
# the connection mid-body, goes silent mid-body past poll.timeout, and
# answers 200 with a body that is not JSON, once while the customers are
# polled; then the orders come back malformed on every request until the
# test heals them. Checked: each fault is logged (method, URL, what went
# wrong) and counted (hub360_poll_retries_total, hub360_poll_failed_
# syncs_total); a lost or stalled body is retried within the sync, a
# malformed one stops the sync without moving the cursor; once healed the
# poller ends with exactly the source's records: the event ids on Kafka
# once each, and the projected views (name, e-mail, orders and revenue
# of every customer) as the records say. Bounded: about 20 s.
source "$(dirname "$0")/lib.sh"
DATA=$HUB360_SOURCE_DIR/tests/e2e/data
use_brokers

python3 - >"$WORK/records.json" <<'PY'
import json
customers = [{"id": i, "updated_at": "2026-03-01T10:00:%02dZ" % i,
              "name": "Person Number%d" % i, "email": "p%d@example.com" % i}
             for i in range(1, 11)]
orders = [{"id": "SO-%d" % i, "updated_at": "2026-03-02T09:00:%02dZ" % i,
           "total": 100 * i, "email": "p%d@example.com" % (i % 4 + 1)}
          for i in range(1, 7)]
print(json.dumps({"customers": customers, "orders": orders}))
PY
edit() { jq "$1" "$WORK/records.json" >"$WORK/records.new" && mv "$WORK/records.new" "$WORK/records.json"; }

start_vendor "$WORK/records.json"

# The customers' first request loses its connection halfway through the
# body, the retry hangs halfway past poll.timeout, the next retry gets a
# complete 200 that is not JSON.
control '{"page_size": 3, "target": "customers", "cut": 1, "hang": 1, "malformed": 1,
          "stall_seconds": 20}'

cat >>"$WORK/hub360.yaml" <<YAML
sources:
  - name: vendor
    system: erp
    mapping: $DATA/poll_vendor.jq
    poll:
      url: $VENDOR/
      interval: 300ms
      params: {limit: "3"}
      timeout: 1500ms
      retries: 6
      backoff: 100ms
      max_backoff: 400ms
YAML

"$HUB360" adapters -c "$WORK/hub360.yaml" --listen 127.0.0.1:0 >"$WORK/adapters.out" 2>"$WORK/adapters.err" &
ADAPTERS=$!
PIDS+=($ADAPTERS)
wait_for_or_exit 30 "$ADAPTERS" grep -q '^listening: ' "$WORK/adapters.out" ||
  fail "hub360 adapters exited: $(cat "$WORK/adapters.err")"
METRICS=http://$(sed -n 's/^listening: //p' "$WORK/adapters.out" | tail -n1)/metrics

# metric NAME_AND_LABELS: its value on /metrics (0 when absent).
metric() { curl -fsS "$METRICS" | awk -v m="$1" '$1 == m { print $2; f = 1 } END { if (!f) print 0 }'; }
metric_at_least() { [ "$(metric "$1")" -ge "$2" ]; }

wait_for 40 cursor_is vendor/customers '{"at":"2026-03-01T10:00:10Z","id":"10"}'
wait_for 20 cursor_is vendor/orders '{"at":"2026-03-02T09:00:06Z","id":"SO-6"}'
expect_eq "the cut, the hang and the malformed page were each served once" \
  "$(vendor_stat '.served | [.cut, .hang, .malformed] | @csv')" '1,1,1'

grep -Eq "source vendor: GET http://127\.0\.0\.1:[0-9]+/customers: (Transferred a partial file|Failure when receiving data from the peer); retry 1 of 6 in [0-9]+ ms" "$WORK/adapters.err" ||
  fail "the connection closed mid-body is not logged as retried: $(grep poll "$WORK/adapters.err")"
ok "a connection closed mid-body is logged and retried"
grep -Eq "source vendor: GET http://127\.0\.0\.1:[0-9]+/customers: Timeout was reached; retry 2 of 6 in [0-9]+ ms" "$WORK/adapters.err" ||
  fail "the body that stalled past poll.timeout is not logged as retried: $(grep poll "$WORK/adapters.err")"
ok "a body stalled past poll.timeout is logged and retried"
grep -Eq "resource customers: sync stopped at page 1, retried next interval: GET http://127\.0\.0\.1:[0-9]+/customers: the response is not JSON: .* at byte [0-9]+$" "$WORK/adapters.err" ||
  fail "the malformed page is not logged clearly: $(grep poll "$WORK/adapters.err")"
ok "a malformed page stops the sync, logged with the request and the byte at fault"
control '{"release": true}'
[ "$(metric 'hub360_poll_retries_total{source="vendor"}')" -ge 2 ] ||
  fail "hub360_poll_retries_total: $(curl -fsS "$METRICS" | grep poll_retries)"
expect_eq "hub360_poll_failed_syncs_total counts the malformed page" \
  "$(metric 'hub360_poll_failed_syncs_total{source="vendor",resource="customers"}')" 1

# Malformed orders that never heal: every sync stops, the cursor stays.
control '{"target": "orders", "malformed": 100000}'
edit '.orders += [{"id": "SO-7", "updated_at": "2026-03-02T09:00:07Z", "total": 700, "email": "p9@example.com"}]'
failed=$(metric 'hub360_poll_failed_syncs_total{source="vendor",resource="orders"}')
wait_for 30 metric_at_least 'hub360_poll_failed_syncs_total{source="vendor",resource="orders"}' $((failed + 3))
expect_eq "malformed pages do not move the cursor" \
  "$(cursor vendor/orders)" '{"at":"2026-03-02T09:00:06Z","id":"SO-6"}'
n=$(grep -Ec "resource orders: sync stopped at page 1, retried next interval: GET http://127\.0\.0\.1:[0-9]+/orders: the response is not JSON" "$WORK/adapters.err")
[ "$n" -ge 3 ] || fail "each malformed sync is not logged ($n lines)"
ok "each failed sync is logged ($n so far)"
control '{"malformed": 0}'
wait_for 20 cursor_is vendor/orders '{"at":"2026-03-02T09:00:07Z","id":"SO-7"}'
ok "healed, the next sync goes on from the cursor"

kill -TERM "$ADAPTERS"
wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"

# Exactly the source's records on Kafka: the ids their vendor ids give,
# once each.
"$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 30s >"$WORK/erp.ndjson"
python3 - "$WORK/records.json" <<'PY' | sort >"$WORK/expected"
import json, sys, uuid
ns = uuid.UUID("7932dfa3-fe97-5e7a-80c2-d85d988334cf")
recs = json.load(open(sys.argv[1]))
for c in recs["customers"]:
    print(uuid.uuid5(ns, "vendor/customer/%s/%s" % (c["id"], c["updated_at"])))
for o in recs["orders"]:
    print(uuid.uuid5(ns, "vendor/order/%s/%s" % (o["id"], o["updated_at"])))
PY
jq -r .event_id "$WORK/erp.ndjson" | sort >"$WORK/got"
expect_file_eq "every record is on Kafka once, with the id its vendor id gives" "$WORK/got" "$WORK/expected"

# And the views say what the records say.
"$HUB360" project --once -c "$WORK/hub360.yaml" 2>"$WORK/project.err" ||
  fail "project: $(cat "$WORK/project.err")"
"$HUB360" export -c "$WORK/hub360.yaml" |
  jq -r '[.profile.emails[0].value, .profile.name.value, .orders.count,
          ([.orders.revenue[] | .amount] | add // 0)] | @tsv' | sort >"$WORK/views"
jq -r '.orders as $o | .customers[] | .email as $e
       | [$e, .name, ([$o[] | select(.email == $e)] | length),
          ([$o[] | select(.email == $e) | .total] | add // 0)] | @tsv' \
  "$WORK/records.json" | sort >"$WORK/views.expected"
expect_file_eq "the views are the source's records, each counted once" "$WORK/views" "$WORK/views.expected"
