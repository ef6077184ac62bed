#!/usr/bin/env bash
# poll.lookback: a vendor that stamps a record before its transaction
# commits (Odoo's write_date) shows it after the cursor has passed its
# time. Two sources poll the same orders of the fake vendor
# (fake_vendor.py), one with `lookback: 60s`, one without. Checked: a
# record that appears behind the cursor, within the lookback, reaches
# Kafka through the first source once (the second cannot see it: the
# limit the setting is for); one older than the lookback does not; the
# queries ask from the cursor less the lookback; the records produced
# within it are kept with the cursor (`lookback.recent`) and pruned past
# it; a record stamped back in time is a new version, produced; syncs
# after a restart repeat nothing; past the 5,000 records the cursor keeps,
# its floor keeps the older ones from being produced again. Bounded: about
# 40 s.
source "$(dirname "$0")/lib.sh"
DATA=$HUB360_SOURCE_DIR/tests/e2e/data
use_brokers

cat >"$WORK/records.json" <<'JSON'
{"customers": [],
 "orders": [
  {"id": "SO-1", "updated_at": "2026-03-02T09:00:01Z", "total": 100, "email": "ann@example.com"},
  {"id": "SO-2", "updated_at": "2026-03-02T09:00:02Z", "total": 200, "email": "bo@example.com"},
  {"id": "SO-3", "updated_at": "2026-03-02T09:00:03Z", "total": 300, "email": "cai@example.com"}]}
JSON
edit() { jq "$1" "$WORK/records.json" >"$WORK/records.new" && mv "$WORK/records.new" "$WORK/records.json"; }
start_vendor "$WORK/records.json" "$WORK/vendor.log"

cat >>"$WORK/hub360.yaml" <<YAML
sources:
  - name: late
    system: erp
    mapping: $DATA/poll_vendor.jq
    poll:
      url: $VENDOR/
      interval: 200ms
      resources: [orders]
      lookback: 60s
  - name: plain
    system: erp
    mapping: $DATA/poll_vendor.jq
    poll:
      url: $VENDOR/
      interval: 200ms
      resources: [orders]
  - name: many
    system: erp
    mapping: $DATA/poll_vendor.jq
    poll:
      url: $VENDOR/
      interval: 200ms
      resources: [customers]
      lookback: 60s
YAML

# orders SOURCE: the order ids SOURCE put on Kafka, one line each, sorted.
orders() {
  "$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 30s |
    jq -r --arg s "$1" 'select(.source.system == $s) | .source.entity_id' | LC_ALL=C sort
}
requests() { vendor_stat '.requests.orders'; }
cursor_id_is() { [ "$(cursor "$1" | jq -r .id)" = "$2" ]; }
at_least() { [ "$(requests)" -ge "$1" ]; }

start_adapters
wait_for 20 cursor_id_is late/orders SO-3
expect_eq "the cursor keeps what it produced within the lookback" \
  "$(cursor late/orders | jq -cS .)" \
  '{"at":"2026-03-02T09:00:03Z","id":"SO-3","lookback":{"recent":{"SO-1":"2026-03-02T09:00:01Z","SO-2":"2026-03-02T09:00:02Z","SO-3":"2026-03-02T09:00:03Z"}}}'
wait_for 20 cursor_is plain/orders '{"at":"2026-03-02T09:00:03Z","id":"SO-3"}'

# SO-9 moves both cursors; then SO-4 commits behind them, stamped
# 09:00:02.5 (within the minute), and SO-0 stamped 08:58:00 (before it);
# SO-10 after them marks a sync that has seen both.
edit '.orders += [{"id": "SO-9", "updated_at": "2026-03-02T09:00:09Z", "total": 900, "email": "ann@example.com"}]'
wait_for 20 cursor_is plain/orders '{"at":"2026-03-02T09:00:09Z","id":"SO-9"}'
wait_for 20 cursor_id_is late/orders SO-9
edit '.orders += [{"id": "SO-4", "updated_at": "2026-03-02T09:00:02.500Z", "total": 400, "email": "dan@example.com"},
                  {"id": "SO-0", "updated_at": "2026-03-02T08:58:00Z", "total": 50, "email": "eva@example.com"}]'
n=$(requests)
wait_for 20 at_least $((n + 4))
edit '.orders += [{"id": "SO-10", "updated_at": "2026-03-02T09:00:10Z", "total": 1000, "email": "bo@example.com"}]'
wait_for 20 cursor_is plain/orders '{"at":"2026-03-02T09:00:10Z","id":"SO-10"}'
wait_for 20 cursor_id_is late/orders SO-10

expect_eq "with lookback: the record that committed behind the cursor is on Kafka, once" \
  "$(orders late | tr '\n' ' ')" "SO-1 SO-10 SO-2 SO-3 SO-4 SO-9 "
expect_eq "without: it is not (the limit lookback is for)" \
  "$(orders plain | tr '\n' ' ')" "SO-1 SO-10 SO-2 SO-3 SO-9 "
expect_eq "the cursor keeps what it produced within the minute before it, SO-4 too" \
  "$(cursor late/orders | jq -c '.lookback.recent | keys')" '["SO-1","SO-10","SO-2","SO-3","SO-4","SO-9"]'
expect_eq "the queries ask from the cursor less the lookback" \
  "$(jq -r 'select(.path == "/orders") | .query.updated_since // empty' "$WORK/vendor.log" |
     grep -c '^2026-03-02T08:59:10Z$' | awk '{ print ($1 > 0) }')" 1

# A record changed far later: the cursor moves past the minute, and
# `recent` keeps only what is within it.
edit '.orders += [{"id": "SO-11", "updated_at": "2026-03-02T09:05:00Z", "total": 1100, "email": "cai@example.com"}]'
wait_for 20 cursor_id_is late/orders SO-11
expect_eq "past the minute, recent is pruned" \
  "$(cursor late/orders | jq -cS '.lookback')" '{"recent":{"SO-11":"2026-03-02T09:05:00Z"}}'

# A record stamped back in time (a transaction that began before the one
# that wrote the version produced): that version is new, and produced.
edit '(.orders[] | select(.id == "SO-11") | .updated_at) = "2026-03-02T09:04:50Z"'
wait_for 20 eval '[ "$(cursor late/orders | jq -r .lookback.recent[\"SO-11\"])" = 2026-03-02T09:04:50Z ]'

# A restart: later syncs produce nothing again.
kill -TERM "$ADAPTERS"
wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"
edit '.orders += [{"id": "SO-12", "updated_at": "2026-03-02T09:04:30Z", "total": 1200, "email": "dan@example.com"}]'
start_adapters
n=$(requests)
wait_for 20 at_least $((n + 6))
expect_eq "after a restart, nothing twice; SO-12 (behind the cursor, within the minute) once" \
  "$(orders late | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" \
  "1xSO-1 1xSO-10 2xSO-11 1xSO-12 1xSO-2 1xSO-3 1xSO-4 1xSO-9 "

# More records within the minute than the cursor keeps (5,000): the older
# half is dropped and the floor rises to its latest; records at or before
# it count as produced, so none is produced again sync after sync; a late
# one after the floor is still taken.
edit '.orders += [range(0; 6000) as $i | {"id": "B-\($i)", "total": 1, "email": "b\($i)@example.com",
        "updated_at": "2026-03-02T09:06:0\($i / 1000 | floor).\($i % 1000 + 1000 | tostring | .[1:])Z"}]'
wait_for 60 cursor_id_is late/orders B-5999
expect_eq "the cursor keeps at most 5,000, with a floor at the latest dropped" \
  "$(cursor late/orders | jq -c '[(.lookback.recent | length) <= 5000, .lookback.floor]')" \
  '[true,"2026-03-02T09:06:02.499Z"]'
edit '.orders += [{"id": "SO-13", "updated_at": "2026-03-02T09:06:05.500Z", "total": 1300, "email": "fay@example.com"}]'
wait_for 20 eval '[ "$(cursor late/orders | jq -r .lookback.recent[\"SO-13\"])" = 2026-03-02T09:06:05.500Z ]'
n=$(requests)
wait_for 30 at_least $((n + 130))
expect_eq "6,000 orders in the minute: each once, SO-13 (late, after the floor) too" \
  "$(orders late | uniq -c | awk '$1 != 1 { print $1 "x" $2 }' | tr '\n' ' ')|$(orders late | wc -l)" \
  "2xSO-11 |6010"

# 5,200 records of one instant (customers: offset pages, which page
# through them): the cursor's 5,000 fill with records of its own instant,
# and the floor rises to it. At the cursor's instant its ties decide:
# past their 1,000 a record may be produced again, none is dropped.
edit '.customers += [range(0; 5200) as $i | {"id": (10000 + $i), "name": "Many \($i)",
                                             "email": "m\($i)@example.com",
                                             "updated_at": "2026-03-02T09:20:00Z"}]'
all_many() {
  [ "$("$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 30s |
       jq -r 'select(.source.system == "many") | .source.entity_id' | sort -u | wc -l)" = 5200 ]
}
wait_for 60 all_many
ok "5,200 records of the cursor's instant: every one on Kafka"
kill -TERM "$ADAPTERS"
wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"
