#!/usr/bin/env bash
# The real Kafka broker killed with SIGKILL and restarted (tests/kafka:
# same port, same data) during the mixed load, twice when it fits, while
# `hub360 adapters` and `hub360 project` run on. Checked: the webhook senders were
# answered 503 (or refused) while it was down and every request ended with
# a 2xx; the views end equal to an uninterrupted reference's; the
# projector read every message on the topics exactly once (its own count
# at SIGTERM), so it went on from where its store was rather than from the
# beginning; a projector started afresh afterwards resumes at the offsets
# in its store and finds nothing to apply.
# Starts a broker of its own (killing the suite's shared one would fail
# the tests running beside this one).
source "$(dirname "$0")/lib.sh"
KAFKA=$HUB360_SOURCE_DIR/tests/kafka/kafka.sh
KDIR=${HUB360_BUILD_DIR:-$WORK}/kafka-faults
mkdir -p "$KDIR"
# the jars kafka.start fetched, when there are some
if [ -d "${HUB360_BUILD_DIR:-}/kafka/lib" ] && [ ! -e "$KDIR/lib" ]; then
  ln -s "$HUB360_BUILD_DIR/kafka/lib" "$KDIR/lib"
fi
stop_kafka() { "$KAFKA" stop "$KDIR" >/dev/null 2>&1 || true; cleanup; }
trap stop_kafka EXIT
BOOTSTRAP=$("$KAFKA" start "$KDIR" 2>"$WORK/kafka.err") ||
  fail "kafka.sh start: $(tail -n 20 "$WORK/kafka.err")"
unset HUB360_TEST_KAFKA
# Produces time out within an outage: the adapters answer 503 and retry,
# and the projector must outlive its changelog's timeouts (it exited on
# the first one before).
DELIVERY_TIMEOUT=4s
faults_setup
reference

CFG=$WORK/hub360.yaml
role_start adapters adapters -c "$CFG" --listen "127.0.0.1:$PORT"
role_start projector project -c "$CFG"

LOAD_T0=$SECONDS
load_start "${LOAD_SECONDS:-36}"
for outage in 1 2; do
  # 2 to 5 s of load, then SIGKILL; down 1 to 3 s before the restart
  # (which itself takes 7 s on a quiet machine, 20 s on a busy one: the
  # second outage only if the load still runs)
  sleep "$((2 + RANDOM % 4)).$((RANDOM % 10))"
  if ! kill -0 "$LOAD" 2>/dev/null; then
    [ "$outage" -gt 1 ] || fail "the load ended before Kafka was killed"
    echo "the load ended before a second outage"
    break
  fi
  "$KAFKA" kill "$KDIR" 2>>"$WORK/kafka.err"
  echo "Kafka killed with SIGKILL at $((SECONDS - LOAD_T0)) s"
  sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
  "$KAFKA" restart "$KDIR" >/dev/null 2>>"$WORK/kafka.err" ||
    fail "kafka.sh restart: $(tail -n 20 "$WORK/kafka.err")"
  echo "Kafka back at $((SECONDS - LOAD_T0)) s"
done
load_wait
grep -Eq 'sent again after: .*(503|connection)' "$WORK/load.out" ||
  fail "no webhook was refused while Kafka was down"
ok "webhooks were refused while Kafka was down, then accepted"
until_views_match 180 "$CFG"
ok "the views reached the reference's"
# a consumer fenced out of its group by a Kafka restart is started again
# (projections/README.md); how often, for whoever reads the log
echo "the projector started its consumer again $(grep -c 'starting a new one' "$WORK/projector.err" || true) times"

role_stop adapters
role_stop projector
consumed=$(grep -E "^[0-9]+ events in " "$WORK/projector.err" | tail -n 1 | cut -d" " -f1)
[ -n "$consumed" ] || fail "the projector did not report at SIGTERM: $(tail -n 5 "$WORK/projector.err")"
faults_compare "$CFG"
expect_eq "the projector read each message on the topics once, through the outages" \
  "$consumed" "$(wc -l <"$WORK/topics.ids")"
# faults_compare's `project --once` started afresh: at the offsets in the
# store, with nothing left to apply
grep -q '^0 events in ' "$WORK/last.err" ||
  fail "a projector started after the load found events to apply: $(cat "$WORK/last.err")"
ok "a projector started afresh resumes at the store's offsets: nothing to apply"
