#!/usr/bin/env bash
# End to end: the customer-360 projector as a user runs it. Events go in
# with `hub360 publish`; `project --once`, `get`, `export`, `digest`,
# `rebuild`, the changelog and the dead-letter topic are checked for
# exact outcomes. The same events in another order across another number
# of partitions give byte-identical views; a projector killed with -9
# again and again ends with the same views as one that ran through.
# Runs on the embedded broker, or on a real Kafka with HUB360_TEST_KAFKA.
source "$(dirname "$0")/lib.sh"
use_brokers
cd "$WORK"
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"

# A second and a third set of topics (another prefix) for the other runs.
prefix=$(sed -n 's/^  topic_prefix: "\(.*\)"$/\1/p' hub360.yaml)
# a: batches of a sixth of the events, so that merges reach customers
# already committed and published (the changelog's tombstones below)
config a "$prefix" 3 "projector:
  batch_events: 1000"
# b: the store as the benchmarks run it (a writable map, its pages
# faulted in ahead, no fsync)
config b "${prefix}b." 5 "projector:
  writemap: true
  sync: false"
config c "${prefix}c." 2 "projector:
  batch_events: 200
  sync: false"

# The events: people across the CRM, ERP and SCRM whose identities
# overlap, some re-sent (same event_id), some identity.link, unlink and
# customer.forget.
"$HUB360" generate --events 6000 --people 900 --seed 7 --duplicates 3 --control 2 > events.ndjson
shuf --random-source=<(yes) events.ndjson > shuffled.ndjson
total=$(wc -l < events.ndjson)
"$HUB360" publish -c a.yaml events.ndjson > /dev/null
"$HUB360" publish -c b.yaml shuffled.ndjson > /dev/null
"$HUB360" publish -c c.yaml events.ndjson > /dev/null

# --- project --once ---------------------------------------------------
"$HUB360" project -c a.yaml --once 2> a.err || { cat a.err >&2; fail "project --once"; }
summary=$(tail -n1 a.err)
case "$summary" in
  "$total events in "*" applied, "*) ok "project --once reports $total events" ;;
  *) fail "unexpected summary: $summary" ;;
esac
dups=$(sed -E 's/.* ([0-9]+) duplicates.*/\1/' <<<"$summary")
[ "$dups" -gt 0 ] || fail "the re-sent events were not counted as duplicates: $summary"
ok "re-sent events are duplicates ($dups)"

# running it again finds nothing new: the offsets are in the store
"$HUB360" project -c a.yaml --once 2> a2.err
expect_eq "a second --once applies nothing" "$(sed -E 's/ in [0-9.]+ s//' a2.err | tail -n1)" \
  "0 events: 0 applied, 0 duplicates, 0 ignored, 0 dead-lettered; 0 views written, 0 removed, 0 changelog records"

"$HUB360" export -c a.yaml > a.ndjson
"$HUB360" export -c a.yaml --format csv > a.csv
"$HUB360" digest -c a.yaml > a.digest
customers=$(wc -l < a.ndjson)
[ "$customers" -gt 100 ] || fail "only $customers customers"
expect_eq "csv has a header and a row per customer" "$(($(wc -l < a.csv) - 1))" "$customers"
expect_eq "csv header: the documented columns" "$(head -n1 a.csv | tr -d '\r')" \
  "id,name,company,email,phone,region,lifecycle_stage,owner,orders,revenue,open_orders,tickets_open,tickets_total,csat_mean,nps_mean,sentiment_mean,mentions,messages_in,following,segments,members,aliases,updated_at"
python3 - a.csv a.ndjson <<'PY' || fail "csv rows do not match the views"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
views = [json.loads(l) for l in open(sys.argv[2])]
assert [r["id"] for r in rows] == [v["id"] for v in views]
for r, v in zip(rows, views):
    assert r["members"] == str(len(v["members"])), r["id"]
    assert r["aliases"] == ";".join(v["aliases"]), r["id"]
    assert r["email"] == ";".join(e["value"] for e in v["profile"]["emails"]), r["id"]
    assert r["orders"] == str(v["orders"]["count"]), r["id"]
    assert r["revenue"] == ";".join(f"{m['currency']}:{m['amount']}" for m in v["orders"]["revenue"]), r["id"]
    assert r["name"] == (v["profile"].get("name") or {}).get("value", ""), r["id"]
PY
ok "csv rows carry the views' values"
expect_eq "digest counts the customers" "$(awk '{print $2}' a.digest)" "$customers"

# --- get ----------------------------------------------------------------
first=$(head -n1 a.ndjson)
id=$(sed -E 's/^\{"id":"([^"]+)".*/\1/' <<<"$first")
expect_eq "get ID prints the exported view" "$("$HUB360" get -c a.yaml "$id")" "$first"
alias=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    v = json.loads(l)
    if v["aliases"]:
        print(v["id"], v["aliases"][0]); break' a.ndjson)
if [ -n "$alias" ]; then
  set -- $alias
  expect_eq "get ALIAS answers with the merged customer" \
    "$("$HUB360" get -c a.yaml "$2" | sed -E 's/^\{"id":"([^"]+)".*/\1/')" "$1"
fi
email=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    for i in json.loads(l)["identities"]:
        if i["kind"] == "email": print(i["value"].upper()); sys.exit()' a.ndjson)
"$HUB360" get -c a.yaml "email:  $email " > /dev/null || fail "get email:VALUE (normalized)"
ok "get email:VALUE normalizes like the projector"
set +e
"$HUB360" get -c a.yaml cus_aaaaaaaaaaaaaaaa > /dev/null 2> missing.err
rc=$?
set -e
expect_eq "get of a missing customer exits 1" "$rc" 1
expect_eq "get of a missing customer says so" "$(cat missing.err)" "hub360 get: no customer cus_aaaaaaaaaaaaaaaa"

# the timeline pages through everything, newest first, without repeats
"$HUB360" get -c a.yaml --timeline --limit 3 "$id" > t1.json
next=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next"] or "")' t1.json)
python3 - "$HUB360" a.yaml "$id" <<'PY' || fail "timeline paging"
import json, subprocess, sys
hub, cfg, cid = sys.argv[1:]
seen, before = [], None
while True:
    cmd = [hub, "get", "-c", cfg, "--timeline", "--limit", "2", cid]
    if before: cmd += ["--before", before]
    page = json.loads(subprocess.check_output(cmd))
    seen += page["items"]
    before = page["next"]
    if not before: break
whole = json.loads(subprocess.check_output([hub, "get", "-c", cfg, "--timeline", "--limit", "10000", cid]))
assert whole["next"] is None, whole["next"]
assert seen == whole["items"], "pages differ from one long page"
keys = [(i["at"], i["event_id"]) for i in seen]
assert keys == sorted(keys, reverse=True), "not newest first"
assert len(set(keys)) == len(keys), "an item repeats"
PY
ok "timeline pages cover every item once, newest first"

# --- the same events, shuffled, on 5 partitions ----------------------
"$HUB360" project -c b.yaml --once 2> b.err || { cat b.err >&2; fail "project b"; }
"$HUB360" export -c b.yaml > b.ndjson
expect_file_eq "another order on other partitions: export byte-identical" b.ndjson a.ndjson
expect_eq "another order: the same digest" "$("$HUB360" digest -c b.yaml)" "$(cat a.digest)"

# --- without the changelog ---------------------------------------------
config e "${prefix}e." 2
# before any event: the store is there and empty, and get says why
# (publishing nothing makes the topics, which a real Kafka does not make
# on request)
"$HUB360" publish -c e.yaml /dev/null > /dev/null
"$HUB360" project -c e.yaml --once 2> e0.err || { cat e0.err >&2; fail "project on empty topics"; }
rc=0; "$HUB360" get -c e.yaml email:a@example.com 2> e0get.err || rc=$?
expect_eq "get on a store that holds no event yet exits 1" "$rc" 1
expect_eq "and says the store has no event yet" "$(cat e0get.err)" \
  "hub360 get: no customer email:a@example.com: the store at $WORK/e/customer360 has no event yet (\`hub360 project\` fills it from Kafka; has it run?)"
head -n 500 events.ndjson | "$HUB360" publish -c e.yaml > /dev/null
"$HUB360" project -c e.yaml --once --no-changelog 2> e.err || { cat e.err >&2; fail "project --no-changelog"; }
written=$(tail -n1 e.err | sed -nE 's/.*; ([0-9]+) views written, .*, 0 changelog records$/\1/p')
[ "${written:-0}" -gt 0 ] || fail "--no-changelog: $(tail -n1 e.err)"
ok "--no-changelog writes views ($written) and no changelog record"
expect_eq "the changelog topic stays empty" \
  "$("$HUB360" tail -c e.yaml --from-beginning --end --timeout 10s changelog 2>/dev/null | wc -l)" 0

# --- kill -9, again and again ------------------------------------------
kill_mid_run c.yaml
"$HUB360" export -c c.yaml > c.ndjson
expect_file_eq "killed $KILLS times with -9: export equals an uninterrupted run" c.ndjson a.ndjson

# --- the changelog -------------------------------------------------------
# per customer id the last record is its view now, or a tombstone when
# it is gone (merged away, forgotten)
kcat -b "$BOOTSTRAP" -C -t "${prefix}customer360.changelog" -o beginning -e -q \
  -f '%p %o %k %S\n' > changelog.idx
"$HUB360" tail -c a.yaml --from-beginning --end changelog > changelog.json 2> changelog.err
python3 - <<'PY' || fail "changelog"
import json
last = {}
for line in open("changelog.idx"):
    p, o, k, size = line.split()
    key = (k)
    if k not in last or (int(p), int(o)) > last[k][0]:
        last[k] = ((int(p), int(o)), int(size))
live = {k for k, (_, size) in last.items() if size >= 0}
views = {}
for line in open("changelog.json"):
    v = json.loads(line)
    views[v["id"]] = line.rstrip("\n")  # per key, records keep their order
export = {json.loads(l)["id"]: l.rstrip("\n") for l in open("a.ndjson")}
assert live == set(export), f"live keys {len(live)} vs customers {len(export)}"
for cid, line in export.items():
    assert views[cid] == line, f"changelog value of {cid} differs from its view"
gone = [k for k, (_, size) in last.items() if size < 0]
assert gone, "no tombstone: merges should have left some"
PY
ok "changelog: the last record per customer is its view; merged-away ids end in a tombstone"

# --- dead letters ---------------------------------------------------------
printf 'not avro at all' | kcat -b "$BOOTSTRAP" -P -t "${prefix}crm.events" -k bad1 -p 0
"$HUB360" project -c a.yaml --once 2> dlq.err
grep -q ' 1 dead-lettered' dlq.err || fail "the bad message was not dead-lettered: $(cat dlq.err)"
kcat -b "$BOOTSTRAP" -C -t "${prefix}deadletter" -o beginning -e -q \
  -f '%k|%s|%h\n' > dlq.out
expect_eq "dead letter: key, value and headers" "$(sed -E 's/offset=[0-9]+/offset=N/' dlq.out)" \
  "bad1|not avro at all|error=not Confluent-framed: first byte is 0x6e, expected 0x00,topic=${prefix}crm.events,partition=0,offset=N"
expect_eq "the views are unchanged by a dead letter" "$("$HUB360" digest -c a.yaml)" "$(cat a.digest)"

# --- rebuild --------------------------------------------------------------
target=$(readlink a/customer360)
"$HUB360" rebuild -c a.yaml --no-progress 2> rebuild.err || { cat rebuild.err >&2; fail "rebuild"; }
grep -q '^rebuilt: ' rebuild.err || fail "rebuild said nothing"
[ "$(readlink a/customer360)" != "$target" ] || fail "rebuild did not swap the store"
[ ! -e "a/$target" ] || fail "rebuild left the old store behind"
expect_eq "rebuild gives the same digest" "$("$HUB360" digest -c a.yaml)" "$(cat a.digest)"
# a rebuild that fails (no Kafka there) leaves the live store as it was,
# and no half generation beside it
ls a >a.before
rc=0; "$HUB360" rebuild -c a.yaml --brokers 127.0.0.1:1 --no-progress 2>failed.err || rc=$?
expect_eq "a failed rebuild exits 1" "$rc" 1
grep -q 'the live store is unchanged, and the new generation .* was removed$' failed.err ||
  fail "a failed rebuild does not say what it left: $(tail -n1 failed.err)"
ls a >a.after
expect_file_eq "and leaves the data dir as it was" a.after a.before

# --- the daemon -----------------------------------------------------------
"$HUB360" project -c a.yaml 2> daemon.err &
daemon=$!
PIDS+=("$daemon")
python3 - > late.ndjson <<'PY'
import json
print(json.dumps({"event_id": "0b7b7f4e-5d2a-4f7e-9c1a-2f0a3c4d5e6f",
  "type": "crm.lead.created", "occurred_at": "2026-06-01T10:00:00Z",
  "source": {"system": "hubspot", "kind": "crm", "entity_type": "lead", "entity_id": "late-1"},
  "identities": [{"kind": "email", "value": "late.comer@example.com"}],
  "payload": {"name": "Late Comer"}}, separators=(",", ":")))
PY
"$HUB360" publish -c a.yaml late.ndjson > /dev/null
wait_for 60 "$HUB360" get -c a.yaml email:late.comer@example.com
ok "the daemon applies new events as they come"
set +e
"$HUB360" project -c a.yaml --once 2> second.err
code=$?
set -e
expect_eq "a second projector on the store is refused, naming the first" \
  "$code $(grep -o 'another hub360 process (pid [0-9]*) is writing the store' second.err)" \
  "1 another hub360 process (pid $daemon) is writing the store"
# a rebuild beside the running daemon: it swaps the store, and the daemon
# goes on writing the new generation
target=$(readlink a/customer360)
"$HUB360" rebuild -c a.yaml --no-progress 2> rebuild2.err || { cat rebuild2.err >&2; fail "rebuild beside the daemon"; }
[ "$(readlink a/customer360)" != "$target" ] || fail "rebuild did not swap the store"
sed 's/0b7b7f4e-5d2a-4f7e-9c1a-2f0a3c4d5e6f/5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/; s/late-1/late-2/; s/late.comer@/after.swap@/' \
  late.ndjson > after-swap.ndjson
"$HUB360" publish -c a.yaml after-swap.ndjson > /dev/null
wait_for 60 "$HUB360" get -c a.yaml email:after.swap@example.com
ok "after a rebuild the running daemon writes the new store"
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not exit 0 on SIGTERM: $(cat daemon.err)"
grep -q ' applied, ' daemon.err || fail "the daemon did not report on exit"
ok "SIGTERM stops the daemon cleanly with a report"
"$HUB360" digest -c a.yaml > late.digest

# --- a daemon of another topic prefix, in the same group (the default
# projector.group_id), right after a's: a static member that stops does
# not leave its group, and Kafka hands the one that comes back under the
# same instance id its last partitions, whatever it subscribes to now.
# Regression: the instance id was the group id alone, so d's daemon read
# a's topics into d's store (and never its own). Only a real Kafka hands
# back the stale assignment; on the embedded broker this passes either way.
config d "${prefix}d." 3
"$HUB360" publish -c d.yaml late.ndjson > /dev/null
"$HUB360" project -c d.yaml 2> d-daemon.err &
daemon=$!
PIDS+=("$daemon")
wait_for 60 "$HUB360" get -c d.yaml email:late.comer@example.com
kill -TERM "$daemon"
wait "$daemon" || fail "d's daemon did not exit 0 on SIGTERM: $(cat d-daemon.err)"
grep -q '^1 events in .* 1 applied, ' <(tail -n1 d-daemon.err) ||
  fail "d's daemon applied other events than d's one: $(tail -n1 d-daemon.err)"
expect_eq "a daemon of another prefix in the same group reads its own topics only" \
  "$("$HUB360" digest -c d.yaml | awk '{print $2, $3}')" "1 customers"

# --- another Kafka cluster (the embedded broker restarted: empty, with a
# new cluster id) ---------------------------------------------------------
if [ -z "${HUB360_TEST_KAFKA:-}" ]; then
  "$HUB360" broker --data "$WORK/other" --partitions 3 > other.out 2> other.err &
  PIDS+=($!)
  wait_for 20 grep -q '^bootstrap: ' other.out
  other=$(sed -n 's/^bootstrap: //p' other.out)
  sed "s|brokers: .*|brokers: $other|" a.yaml > moved.yaml
  "$HUB360" publish -c moved.yaml events.ndjson > /dev/null
  "$HUB360" project -c moved.yaml --once 2> moved.err || { cat moved.err >&2; fail "project on the other cluster"; }
  grep -q 'the store last read Kafka cluster .*; now connected to .*: reading that cluster.s partitions from the beginning, keeping the views' moved.err ||
    fail "no word of the other cluster: $(cat moved.err)"
  ok "another cluster id is logged and its partitions read from the beginning"
  grep -q "^$total events in .* $total duplicates" <(tail -n1 moved.err) ||
    fail "the same events again should all be duplicates: $(tail -n1 moved.err)"
  ok "the views are kept: the same events on the new cluster are all duplicates"
  expect_eq "another cluster: the views are unchanged" "$("$HUB360" digest -c a.yaml)" "$(cat late.digest)"
fi
