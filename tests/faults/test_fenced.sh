#!/usr/bin/env bash
# Two `hub360 project` daemons on a real Kafka with the same
# projector.group_id and topic_prefix, each with its own store (a replica
# started with the other's configuration). Both join as the same static
# member (KIP-345), so the coordinator fences each in turn: a fatal error
# of its consumer. Checked: each starts its consumer again (the fenced
# one used to stall for good, alive) and names the setting to fix; both
# stores end with every event, equal to a reference's; both stop on
# SIGTERM.
source "$(dirname "$0")/../e2e/lib.sh"
: "${HUB360_TEST_KAFKA:?needs a real Kafka: HUB360_TEST_KAFKA (tests/kafka)}"
BOOTSTRAP=$(cat "$HUB360_TEST_KAFKA")
PREFIX="fenced$$-$(date +%N)"
for x in a b ref; do
  cat >"$WORK/$x.yaml" <<YAML
kafka:
  brokers: $BOOTSTRAP
  partitions: 3
  topic_prefix: "$PREFIX."
data_dir: $WORK/$x
log:
  level: info
YAML
done
# half the events before the fence, half after it
"$HUB360" generate --events 2000 >"$WORK/events.ndjson"
head -n 1000 "$WORK/events.ndjson" >"$WORK/first.ndjson"
tail -n +1001 "$WORK/events.ndjson" >"$WORK/second.ndjson"
publish() {
  "$HUB360" publish -c "$WORK/a.yaml" "$WORK/$1.ndjson" 2>"$WORK/publish.err" ||
    fail "publish: $(cat "$WORK/publish.err")"
}
publish first

declare -A PID
start() {
  "$HUB360" project -c "$WORK/$1.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  PID[$1]=$!
  PIDS+=($!)
}
start a
wait_for 60 grep -q 'assigned 12 partitions' "$WORK/a.err"
start b
wait_for 60 grep -q 'stopped on a fatal error (.*fenced' "$WORK/a.err"
ok "the first projector was fenced when the second joined as the same member"
grep -q "another projector joins as hub360-projector.$PREFIX: give each replica its own projector.group_id" "$WORK/a.err" ||
  fail "no hint at the shared group id: $(grep -i fatal "$WORK/a.err" | tail -n 3)"
ok "it names the member and the setting to change"
publish second
"$HUB360" project -c "$WORK/ref.yaml" --once 2>"$WORK/ref.err" ||
  fail "the reference: $(cat "$WORK/ref.err")"
REF=$("$HUB360" digest -c "$WORK/ref.yaml")

matches() { [ "$("$HUB360" digest -c "$WORK/$1.yaml" 2>/dev/null)" = "$REF" ]; }
deadline=$((SECONDS + 120))
until matches a && matches b; do
  if [ $SECONDS -ge $deadline ]; then
    for x in a b; do echo "--- $x: $("$HUB360" digest -c "$WORK/$x.yaml" 2>&1)"; tail -n 5 "$WORK/$x.err"; done >&2
    fail "the stores did not reach the reference's ($REF) within 120 s"
  fi
  sleep 0.5
done
ok "both stores hold every event, those sent after the fence too: $REF"
# a was fenced (checked above) and must have come back; b may not have
# been fenced yet
grep -q 'starting a new one' "$WORK/a.err" ||
  fail "the fenced projector did not start its consumer again: $(tail -n 5 "$WORK/a.err")"
ok "the fenced projector started its consumer again"
echo "projector b started its consumer again $(grep -c 'starting a new one' "$WORK/b.err" || true) times"

for x in a b; do
  kill -TERM "${PID[$x]}"
  wait_for 60 bash -c "! kill -0 ${PID[$x]}"
  rc=0
  wait "${PID[$x]}" || rc=$?
  [ "$rc" -eq 0 ] || fail "projector $x exited $rc on SIGTERM: $(tail -n 5 "$WORK/$x.err")"
done
PIDS=()
ok "both stopped on SIGTERM"
