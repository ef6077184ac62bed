#!/usr/bin/env bash
# Polling end to end: `hub360 adapters` polling a fake vendor API
# (fake_vendor.py) through a mapping of the test's own (data/poll_vendor.jq:
# next-link pages and keyset pages), through the `mention` preset
# (opaque cursor pages, OAuth2 client credentials, poll.since) and the
# `hubspot` preset (POST searches paged by `after`, on HubSpot's own
# recorded contacts, a bearer token).
# Checked: the events on Kafka are exactly the records, once each, with
# the event ids their vendor ids give; records sharing a timestamp across
# a page boundary (and microseconds within one millisecond, ids 9 and 10
# at one instant) are neither skipped nor repeated; 429, 500 and a stalled
# page are retried; a 403 or a page over 32 MiB fails that sync (the
# error logged), the next goes on;
# a record that does not map is logged and dead-lettered; min_interval holds;
# the cursors in LMDB are where the records end; a kill -9 mid-sync and a
# restart lose nothing and produce no other ids; SIGTERM stops promptly.
source "$(dirname "$0")/lib.sh"
DATA=$HUB360_SOURCE_DIR/tests/e2e/data
use_brokers

# --- the vendor -----------------------------------------------------------

cat >"$WORK/records.json" <<'JSON'
{"customers": [
  {"id": 1, "updated_at": "2026-03-01T10:00:00Z", "name": "Ann Li", "email": "ann@example.com"},
  {"id": 2, "updated_at": "2026-03-01T10:00:01Z", "name": "Bo Wang", "email": "bo@example.com"},
  {"id": 3, "updated_at": "2026-03-01T10:00:02Z", "name": "Cai Xu", "email": "cai@example.com"},
  {"id": 4, "updated_at": "2026-03-01T10:00:02Z", "name": "Dan Wu", "email": "dan@example.com"},
  {"id": 5, "updated_at": "2026-03-01T10:00:02.250Z", "name": "Eva Lin", "email": "eva@example.com"},
  {"id": 6, "updated_at": "2026-03-01T10:00:02.500Z", "name": null, "email": "nameless@example.com"},
  {"id": 7, "updated_at": "2026-03-01T10:00:03Z", "name": "Fay Zhou", "email": "fay@example.com"},
  {"id": 9, "updated_at": "2026-03-01T10:00:03.5Z", "name": "Gus Ma", "email": "gus@example.com"},
  {"id": 10, "updated_at": "2026-03-01T18:00:03.5+08:00", "name": "Hui Sun", "email": "hui@example.com"}],
 "orders": [
  {"id": "SO-1", "updated_at": "2026-03-02T09:00:00Z", "total": 100, "email": "ann@example.com"},
  {"id": "SO-2", "updated_at": "2026-03-02T09:00:00.5Z", "total": 200, "email": "bo@example.com"},
  {"id": "SO-5", "updated_at": "2026-03-02T09:00:01.000001Z", "total": 500, "email": "eva@example.com"},
  {"id": "SO-4", "updated_at": "2026-03-02T09:00:01.000002Z", "total": 400, "email": "dan@example.com"},
  {"id": "SO-6", "updated_at": "2026-03-02T09:00:02Z", "total": 600, "email": "fay@example.com"},
  {"id": "SO-7", "updated_at": "2026-03-02T09:00:02Z", "total": 700, "email": "gus@example.com"},
  {"id": "SO-8", "updated_at": "2026-03-02T09:00:03Z", "total": 800, "email": "hui@example.com"}],
 "mentions": [
  {"id": "bw-1", "platform": "weibo", "author_handle": "tea_fan", "text": "old news",
   "updated_at": "2026-03-04T08:00:00Z"},
  {"id": "bw-2", "platform": "weibo", "author_handle": "tea_fan", "text": "great tea",
   "updated_at": "2026-03-05T08:00:00Z"},
  {"id": "bw-3", "platform": "x", "author_handle": "@leaf", "text": "slow delivery",
   "updated_at": "2026-03-05T08:00:00Z"},
  {"id": "bw-4", "platform": "instagram", "author_handle": "cups", "text": "nice cup",
   "updated_at": "2026-03-05T09:30:00.250Z"}]}
JSON
# HubSpot's own recorded contacts, for the hubspot preset's search.
HS_PAGE=$HUB360_SOURCE_DIR/tests/fixtures/vendors/hubspot_crm_v3_contacts_list_recorded.json
jq --slurpfile hs "$HS_PAGE" '.contacts = $hs[0].results' "$WORK/records.json" >"$WORK/records.new" &&
  mv "$WORK/records.new" "$WORK/records.json"
# edit JQ_PROGRAM: rewrites the records file in one rename, as the fake
# reads it on every request.
edit() { jq "$1" "$WORK/records.json" >"$WORK/records.new" && mv "$WORK/records.new" "$WORK/records.json"; }

start_vendor "$WORK/records.json" "$WORK/vendor.log"
# at_least JQ N: the fake's statistic JQ is N or more (for wait_for).
at_least() { [ "$(vendor_stat "$1")" -ge "$2" ]; }

# Pages of 3. The customers' first requests meet one 429 (Retry-After: 1),
# one 503 (Retry-After: 1), two 500s and one page held past poll.timeout;
# all must be retried.
control '{"page_size": 3, "target": "customers", "fail_429": 1, "fail_503": 1, "fail_500": 2,
          "stall": 1, "stall_seconds": 4,
          "oauth": {"client_id": "hub", "client_secret": "s3cret", "collections": ["mentions"]}}'

cat >>"$WORK/hub360.yaml" <<YAML
sources:
  - name: vendor
    system: erp
    mapping: $DATA/poll_vendor.jq
    poll:
      url: $VENDOR/
      interval: 500ms
      params: {limit: "3"}
      auth: {header: "X-Api-Key: k-123"}
      timeout: 1500ms
      retries: 6
      backoff: 100ms
      max_backoff: 400ms
  - name: listen
    system: scrm
    preset: mention
    poll:
      url: $VENDOR
      interval: 500ms
      since: "2026-03-05T16:00:00+08:00"
      auth: {token_url: $VENDOR/oauth/token, client_id: hub, client_secret: s3cret}
      timeout: 5s
      backoff: 100ms
      min_interval: 300ms
  - name: crm
    system: crm
    preset: hubspot
    poll:
      url: $VENDOR
      interval: 4s               # a restart within a sync comes sooner
      resources: [contacts]
      auth: {bearer: pat-123}
YAML

# The event ids hub360 must derive: UUIDv5(hub360's namespace,
# "<source>/<the mapping's id>"), computed here independently.
expected_ids() {
  python3 - "$WORK/records.json" <<'PY'
import json, sys, uuid
ns = uuid.UUID("7932dfa3-fe97-5e7a-80c2-d85d988334cf")
recs = json.load(open(sys.argv[1]))
for c in recs["customers"]:
    if c["name"] is not None:   # the record that does not map
        print(uuid.uuid5(ns, "vendor/customer/%s/%s" % (c["id"], c["updated_at"])))
for o in recs["orders"]:
    print(uuid.uuid5(ns, "vendor/order/%s/%s" % (o["id"], o["updated_at"])))
PY
}
erp_events() {
  "$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 30s >"$WORK/erp.ndjson"
}

# --- a first sync ---------------------------------------------------------

start_adapters
wait_for 40 cursor_is vendor/customers '{"at":"2026-03-01T18:00:03.5+08:00","id":"10","ties":["9"]}'
wait_for 20 cursor_is vendor/orders '{"at":"2026-03-02T09:00:03Z","id":"SO-8"}'
ok "the cursors stop at the last records (ids 9 and 10 at one instant: 10, and 9 as its tie)"
# A few more syncs, each asking again from the cursor's instant.
n=$(vendor_stat '.requests.orders')
wait_for 20 at_least .requests.orders $((n + 2))
erp_events
expected_ids | sort >"$WORK/expected"
jq -r .event_id "$WORK/erp.ndjson" | sort >"$WORK/got"
expect_file_eq "every record is on Kafka once, with the id its vendor id gives" "$WORK/got" "$WORK/expected"
expect_eq "the events are the mapped records" \
  "$(jq -r '[.type, .source.entity_id] | join(" ")' "$WORK/erp.ndjson" | sort | tr '\n' ',')" \
  "erp.customer.upserted 1,erp.customer.upserted 10,erp.customer.upserted 2,erp.customer.upserted 3,erp.customer.upserted 4,erp.customer.upserted 5,erp.customer.upserted 7,erp.customer.upserted 9,erp.order.placed SO-1,erp.order.placed SO-2,erp.order.placed SO-4,erp.order.placed SO-5,erp.order.placed SO-6,erp.order.placed SO-7,erp.order.placed SO-8,"
expect_eq "429, the 500s and the held page were served, and retried" \
  "$(vendor_stat '.served | [."429", ."500", .stall] | @csv')" '1,2,1'
grep -q 'HTTP 429.*retry 1 of 6 in 1000 ms' "$WORK/adapters.err" ||
  fail "no retry after Retry-After: 1 in the log: $(grep poll "$WORK/adapters.err")"
ok "the 429 waited what Retry-After said"
grep -q 'HTTP 503.*retry 2 of 6 in 1000 ms' "$WORK/adapters.err" ||
  fail "the 503 did not wait its Retry-After: $(grep 'HTTP 503' "$WORK/adapters.err")"
ok "so did the 503"
grep -q 'record 6 (at 2026-03-01T10:00:02.500Z) did not map; it goes to the dead-letter topic' "$WORK/adapters.err" ||
  fail "the record that does not map is not logged"
ok "a record that does not map is logged with its id"
"$HUB360" tail -c "$WORK/hub360.yaml" deadletter --from-beginning --end --timeout 30s >"$WORK/dead.ndjson"
expect_eq "and is on the dead-letter topic as the vendor sent it" \
  "$(jq -c 'select(.headers.adapter == "poll") | [.key, .value.id, (.headers.meta | fromjson | .resource), (.headers.error | length > 0)]' "$WORK/dead.ndjson")" \
  '["vendor",6,"customers",true]'

expect_eq "the vendor's own auth header was sent" "$(vendor_stat '.auth.customers')" "k-123"


# The adapters process serves its metrics, pollers' included.
metrics_addr=$(sed -n 's/^listening: //p' "$WORK/adapters.out" | tail -n1)
curl -sS "http://$metrics_addr/metrics" >"$WORK/metrics"
grep -Eq '^hub360_adapter_events_total\{source="vendor",adapter="poll"\} [1-9]' "$WORK/metrics" ||
  fail "/metrics has no poll events for vendor: $(grep adapter_events "$WORK/metrics")"
grep -q '^hub360_poll_last_sync_timestamp_seconds{source="vendor",resource="orders"} ' "$WORK/metrics" ||
  fail "/metrics has no last sync time for vendor/orders"
ok "/metrics counts the poller's events and its last sync"

# A page over the 32 MiB bound fails that sync, naming the limit; the
# next interval goes on from the cursor.
control '{"target": "orders", "oversize": 1}'
edit '.orders += [{"id": "SO-10", "updated_at": "2026-03-02T09:00:04Z", "total": 1000, "email": "ann@example.com"}]'
wait_for 20 cursor_is vendor/orders '{"at":"2026-03-02T09:00:04Z","id":"SO-10"}'
grep -q 'resource orders: sync stopped at page 1, retried next interval: GET http://127.0.0.1:[0-9]*/orders: the response is over the 32 MiB limit of a page' "$WORK/adapters.err" ||
  fail "no error naming the body limit: $(grep -i 'limit' "$WORK/adapters.err")"
ok "a body over 32 MiB is an error naming the limit, and the next sync recovers"

# --- the mention preset, OAuth2 and poll.since ----------------------------

wait_for 20 cursor_is listen/mentions '{"at":"2026-03-05T09:30:00.250Z","id":"bw-4"}'
"$HUB360" tail -c "$WORK/hub360.yaml" scrm --from-beginning --end --timeout 30s >"$WORK/scrm.ndjson"
# since is 08:00 UTC, given with an offset: bw-2 and bw-3 (08:00 UTC)
# are in, bw-1 (the day before) is not
jq -c '.mentions[] | select(.updated_at >= "2026-03-05T08:00")' "$WORK/records.json" |
  "$HUB360" map --preset mention --name listen --via poll --resource mentions --lines - |
  jq -r .event_id | sort >"$WORK/expected.scrm"
jq -r .event_id "$WORK/scrm.ndjson" | sort >"$WORK/got.scrm"
expect_file_eq "the mention preset's events, from poll.since on, once each" "$WORK/got.scrm" "$WORK/expected.scrm"
expect_eq "poll.since given with an offset is asked for in UTC" \
  "$(jq -r 'select(.path == "/mentions") | .query.updated_since' "$WORK/vendor.log" | head -n1)" \
  "2026-03-05T08:00:00Z"
expect_eq "one token serves every request until it is revoked" "$(vendor_stat .tokens)" 1
control '{"revoke": true}'
edit '.mentions += [range(5; 8) as $i | {"id": "bw-\($i)", "platform": "weibo", "author_handle": "tea_fan",
                                         "text": "again \($i)", "updated_at": "2026-03-05T09:30:00.250Z"}]'
wait_for 20 cursor_is listen/mentions '{"at":"2026-03-05T09:30:00.250Z","id":"bw-7","ties":["bw-4","bw-5","bw-6"]}'
expect_eq "a revoked token is renewed once and the request retried" "$(vendor_stat .tokens)" 2
# Two pages now, and the 401, the token and the retry: each request of
# the source at least poll.min_interval (300ms) after the one before. The
# fake stamps a request when its thread gets to it: on a loaded machine a
# stamp comes late, making its gap long and the next one short (0.46 s
# then 0.16 s was seen), so a short gap passes when it and the gap before
# it make two intervals.
expect_eq "poll.min_interval spaces the requests" \
  "$(jq -s '[.[] | select(.path == "/mentions" or .path == "/oauth/token") | .t]
            | [range(1; length) as $i | .[$i] - .[$i - 1]] as $gaps
            | [range(0; $gaps | length) as $i
               | select($gaps[$i] < 0.25 and ($i == 0 or $gaps[$i - 1] + $gaps[$i] < 0.55))]
            | length' \
        "$WORK/vendor.log")" 0

# --- the hubspot preset: POST search pages, on HubSpot's own records -------

wait_for 20 cursor_is crm/contacts '{"at":"2024-07-26T18:45:12.900Z","id":"251"}'
"$HUB360" tail -c "$WORK/hub360.yaml" crm --from-beginning --end --timeout 30s >"$WORK/crm.ndjson"
"$HUB360" map --preset hubspot --name crm --via poll --resource contacts "$HS_PAGE" |
  jq -r .event_id | sort >"$WORK/expected.crm"
jq -r .event_id "$WORK/crm.ndjson" | sort >"$WORK/got.crm"
expect_file_eq "the hubspot preset's searches bring every contact once" "$WORK/got.crm" "$WORK/expected.crm"
expect_eq "with the bearer token" "$(vendor_stat '.auth.contacts')" "Bearer pat-123"

# --- incremental syncs ----------------------------------------------------

# A 403 is not retried: that sync ends, logged with the body's first 200
# bytes; the next interval goes on.
control '{"target": "customers", "fail_403": 1}'

# Customer 11 shares the cursor's instant with a greater id; customer 2
# changed; SO-9 shares SO-10's instant (and sorts after it as a string).
edit '.customers += [{"id": 11, "updated_at": "2026-03-01T10:00:03.500Z", "name": "Ivy Qin", "email": "ivy@example.com"}]
      | (.customers[] | select(.id == 2)) |= (.updated_at = "2026-03-01T11:00:00Z" | .name = "Bo Wang Jr")
      | .orders += [{"id": "SO-9", "updated_at": "2026-03-02T09:00:04Z", "total": 900, "email": "ivy@example.com"}]'
wait_for 20 cursor_is vendor/customers '{"at":"2026-03-01T11:00:00Z","id":"2"}'
wait_for 20 cursor_is vendor/orders '{"at":"2026-03-02T09:00:04Z","id":"SO-9","ties":["SO-10"]}'
expect_eq "the 403 was served once" "$(vendor_stat '.served."403"')" 1
line=$(grep 'HTTP 403' "$WORK/adapters.err") || fail "the 403 is not logged"
case "$line" in
  *'resource customers: sync stopped at page 1, retried next interval: GET http://127.0.0.1:'*'/customers: HTTP 403: {"error": "forbidden", "detail": "xxx'*) ;;
  *) fail "the 403 is logged as: $line" ;;
esac
expect_eq "the 403's body is cut at 200 bytes" "$(printf '%s' "${line#*HTTP 403: }" | wc -c)" 200
grep 'HTTP 403' "$WORK/adapters.err" | grep -q 'retry [0-9]' && fail "a 403 was retried"
ok "a 403 is not retried"
erp_events
jq -r .event_id "$WORK/erp.ndjson" | sort >"$WORK/got"
(cat "$WORK/expected"; expected_ids) | sort -u >"$WORK/expected.all"
expect_file_eq "new and changed records arrive once, nothing before them again" "$WORK/got" "$WORK/expected.all"

# --- SIGTERM, then kill -9 mid-sync and a restart -------------------------

t0=$(date +%s%N)
kill -TERM "$ADAPTERS"
wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] || fail "SIGTERM took over 5 s"
ok "SIGTERM stops the pollers promptly"

# Nine more customers: three pages. The second page is held until the
# process is killed; the restart must resume from the first page's cursor.
edit '.customers += [range(12; 21) as $i | {"id": $i, "updated_at": "2026-03-01T12:00:0\($i - 12)Z",
                                           "name": "New Customer\($i)", "email": "n\($i)@example.com"}]'
control '{"target": "customers", "stall": 5, "stall_skip": 1, "stall_seconds": 30}'
start_adapters
wait_for 30 at_least .stalling 1
kill -9 "$ADAPTERS"
wait "$ADAPTERS" 2>/dev/null || true
control '{"stall": 0, "release": true}'
mid=$(cursor vendor/customers)
[ "$mid" = '{"at":"2026-03-01T12:00:01Z","id":"13"}' ] || fail "the cursor after the kill is $mid"
ok "killed mid-sync: the cursor holds the last acknowledged page"
start_adapters
wait_for 30 cursor_is vendor/customers '{"at":"2026-03-01T12:00:08Z","id":"20"}'
erp_events
# Duplicates may only carry an id already expected: a kill between Kafka's
# acknowledgement and the cursor's write re-produces that page after the
# restart, with the same ids (the projector counts them once). The set of
# ids must be exactly the records'.
# (Customer 2's first version stays on Kafka: hence the union.)
jq -r .event_id "$WORK/erp.ndjson" | sort -u >"$WORK/got"
(cat "$WORK/expected.all"; expected_ids) | sort -u >"$WORK/expected.final"
expect_file_eq "after kill -9 and a restart, the event ids are exactly the records'" "$WORK/got" "$WORK/expected.final"
# Here the kill came while a request was held, after the page before it
# was stored, so not even a same-id duplicate is expected.
expect_eq "and there is one event per id" \
  "$(jq -r .event_id "$WORK/erp.ndjson" | sort | uniq -d)" ""

# Ties in the vendor's own order: records of one instant listed by id
# descending (a vendor that sorts on one property, as HubSpot's search
# does), and pages of 3 that end inside the run. None is dropped, and
# later syncs repeat none.
control '{"ties_descending": true}'
edit '.customers += [range(30; 35) as $i | {"id": $i, "updated_at": "2026-03-01T13:00:00Z", "name": "Tie \($i)", "email": "tie\($i)@example.com"}]'
wait_for 40 cursor_is vendor/customers '{"at":"2026-03-01T13:00:00Z","id":"34","ties":["33","32","31","30"]}'
n=$(vendor_stat '.requests.customers')
wait_for 20 at_least .requests.customers $((n + 2))
erp_events
expect_eq "every record of a tied run is on Kafka once" \
  "$(jq -r 'select(.source.entity_id | test("^3[0-4]$")) | .source.entity_id' "$WORK/erp.ndjson" | sort | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' ')" \
  "1x30 1x31 1x32 1x33 1x34 "

# HubSpot's search pages one query through its first 10,000 results only
# (the fake answers an `after` of 10,000 or more 400, as HubSpot does). A
# first sync of 10,250 contacts, three to a second, goes on past them with
# a new search from the cursor, in the same sync: every contact once, and
# not one 400.
control '{"page_size": 100}'
jq -n '{results: [range(0; 10250) as $i
  | ((1769904000 + (($i / 3) | floor)) | todate | sub("Z$"; ".000Z")) as $at
  | {id: "\(700000 + $i)", createdAt: $at, updatedAt: $at, archived: false,
     properties: {email: "bulk\($i)@example.com", firstname: "Bulk", lastname: "No \($i)",
                  lastmodifieddate: $at, hs_object_id: "\(700000 + $i)"}}]}' >"$WORK/bulk.json"
jq --slurpfile bulk "$WORK/bulk.json" '.contacts += $bulk[0].results' "$WORK/records.json" >"$WORK/records.new" &&
  mv "$WORK/records.new" "$WORK/records.json"
wait_for 120 cursor_is crm/contacts '{"at":"2026-02-01T00:56:56.000Z","id":"710249","ties":["710248"]}'
"$HUB360" tail -c "$WORK/hub360.yaml" crm --from-beginning --end --timeout 30s >"$WORK/crm.ndjson"
{ "$HUB360" map --preset hubspot --name crm --via poll --resource contacts "$HS_PAGE"
  "$HUB360" map --preset hubspot --name crm --via poll --resource contacts "$WORK/bulk.json"
} | jq -r .event_id | sort >"$WORK/expected.crm"
jq -r .event_id "$WORK/crm.ndjson" | sort >"$WORK/got.crm"
expect_eq "10,250 contacts past the search's 10,000: every one on Kafka" \
  "$(wc -l <"$WORK/got.crm")" "$(wc -l <"$WORK/expected.crm")"
expect_file_eq "and each once" "$WORK/got.crm" "$WORK/expected.crm"
expect_eq "no search paged past 10,000 (no 400)" "$(vendor_stat '.served["400"]')" 0
expect_eq "it went on with a new search from the cursor, from its first page" \
  "$(jq -c 'select(.path == "/crm/v3/objects/contacts/search"
                   and .query.updated_since == "2026-02-01T00:55:32.000Z") | .query.cursor' \
        "$WORK/vendor.log" | head -n1)" null
# in the same sync: right after the last page the first search reached,
# not an interval (4 s) later
expect_eq "and in the same sync, not at the next interval" \
  "$(jq -s '[.[] | select(.path == "/crm/v3/objects/contacts/search")]
            | (map(.query.cursor == "9900") | index(true)) as $i
            | .[$i + 1].t - .[$i].t < 2' "$WORK/vendor.log")" true

kill -TERM "$ADAPTERS"
wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"
ok "SIGTERM stops hub360 adapters cleanly"
