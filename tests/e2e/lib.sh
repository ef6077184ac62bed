# Helpers for hub360's end-to-end tests: they run the hub360 binary the
# way a user does and compare what it prints. Sourced by tests/e2e/*.sh.
# Environment: HUB360 (the binary), HUB360_SOURCE_DIR (the repository).
set -euo pipefail

: "${HUB360:?set HUB360 to the hub360 binary}"
: "${HUB360_SOURCE_DIR:?set HUB360_SOURCE_DIR to the source tree}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hub360-e2e.XXXXXX")
PIDS=()
FAILED=0

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # what has not stopped 10 s after SIGTERM (a failure said so) is killed
  local deadline=$((SECONDS + 10))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$FAILED" -eq 0 ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILED=1; exit 1; }

# stacks PID NAME: every thread's stack of a process that is stuck, into
# $WORK/NAME.stacks, and its hub360 frames to stderr (needs gdb).
stacks() {
  command -v gdb >/dev/null || { echo "(no gdb: no stacks of $2)" >&2; return 0; }
  timeout 60 gdb -q -batch -p "$1" -ex "thread apply all bt" \
    >"$WORK/$2.stacks" 2>&1 || true
  echo "--- the threads of $2 (pid $1), their hub360 frames; all in $WORK/$2.stacks:" >&2
  awk '/^Thread /{t=$0; shown=0} /^#/ && /(hub_|hub360|main \(|run_|projector|consumer|producer)/ {
         if (!shown) {print t; shown=1} print "  " $0}' "$WORK/$2.stacks" | cut -c1-200 >&2
}
ok() { echo "ok: $*"; }

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds, or fails
# the test when SECONDS have passed.
wait_for() {
  local limit=$1; shift
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@" 2>/dev/null; do
    [ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $*"
    sleep 0.05
  done
}

# wait_for_or_exit SECONDS PID COMMAND...: runs COMMAND until it succeeds
# (returns 0) or process PID has exited (returns 1); fails the test when
# SECONDS pass first.
wait_for_or_exit() {
  local limit=$1 pid=$2; shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $*"
    sleep 0.02
  done
}

# expect_eq NAME ACTUAL EXPECTED
expect_eq() {
  if [ "$2" != "$3" ]; then
    printf 'FAIL: %s\n--- expected\n%s\n--- got\n%s\n' "$1" "$3" "$2" >&2
    FAILED=1
    exit 1
  fi
  ok "$1"
}

# expect_file_eq NAME ACTUAL_FILE EXPECTED_FILE
expect_file_eq() {
  if ! diff -u "$3" "$2" >&2; then FAILED=1; fail "$1"; fi
  ok "$1"
}

# start_broker DATA_DIR: runs `hub360 broker` in the background and sets
# BOOTSTRAP from the first line it prints.
start_broker() {
  local out="$WORK/broker.out"
  : >"$out" # here, not in the background child: a second start must not
            # find the first one's line before the child truncates the file
  "$HUB360" broker --data "$1" --partitions "${PARTITIONS:-3}" >"$out" 2>"$WORK/broker.err" &
  PIDS+=($!)
  wait_for 20 grep -q '^bootstrap: ' "$out"
  BOOTSTRAP=$(sed -n 's/^bootstrap: //p' "$out" | head -n1)
}

# The brokers this run uses: the embedded one started here, or a real
# Kafka when HUB360_TEST_KAFKA names its bootstrap file. Writes a config
# ($WORK/hub360.yaml) with topics of this run's own.
use_brokers() {
  local prefix="e2e$$-$RANDOM."
  if [ -n "${HUB360_TEST_KAFKA:-}" ]; then
    BOOTSTRAP=$(cat "$HUB360_TEST_KAFKA")
  else
    start_broker "$WORK/data"
    prefix="hub360."
  fi
  cat >"$WORK/hub360.yaml" <<YAML
kafka:
  brokers: $BOOTSTRAP
  partitions: 3
  topic_prefix: "$prefix"
data_dir: $WORK/data
YAML
}

# config NAME PREFIX PARTITIONS [EXTRA YAML]: writes NAME.yaml (in the
# current directory) for a store of its own, $WORK/NAME, on the brokers of
# use_brokers and the topics of PREFIX; warnings only in the logs.
config() {
  cat >"$1.yaml" <<YAML
kafka:
  brokers: $BOOTSTRAP
  partitions: $3
  topic_prefix: "$2"
data_dir: $WORK/$1
log:
  level: warn
${4:-}
YAML
  mkdir -p "$WORK/$1"
  [ -f "$WORK/data/broker.addr" ] && cp "$WORK/data/broker.addr" "$WORK/$1/"
  return 0
}

# serve CONFIG: starts `hub360 serve` on a free loopback port; sets SERVE
# (its pid) and API (its base URL).
serve() {
  : >"$WORK/serve.out" # see start_broker
  "$HUB360" serve -c "$1" --listen 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
  SERVE=$!
  PIDS+=($SERVE)
  wait_for_or_exit 20 "$SERVE" grep -q '^listening: ' "$WORK/serve.out" ||
    fail "hub360 serve exited: $(cat "$WORK/serve.err")"
  API=http://$(sed -n 's/^listening: //p' "$WORK/serve.out")
}

# start_vendor RECORDS [LOG]: runs the fake vendor API (fake_vendor.py)
# on RECORDS; sets VENDOR (its base URL). control JSON sets its knobs;
# vendor_stat JQ reads its counters.
start_vendor() {
  python3 "$HUB360_SOURCE_DIR/tests/e2e/fake_vendor.py" "$@" \
    >"$WORK/vendor.out" 2>"$WORK/vendor.err" &
  PIDS+=($!)
  wait_for 10 grep -q '^port ' "$WORK/vendor.out"
  VENDOR=http://127.0.0.1:$(sed -n 's/^port //p' "$WORK/vendor.out")
}
control() { curl -fsS -X POST "$VENDOR/_control" -H 'Content-Type: application/json' -d "$1" >/dev/null; }
vendor_stat() { curl -fsS "$VENDOR/_stats" | jq -r "$1"; }

# start_adapters: starts `hub360 adapters` on $WORK/hub360.yaml (output
# in $WORK/adapters.out, logs appended to $WORK/adapters.err) and waits
# for its start line; sets ADAPTERS (its pid).
start_adapters() {
  : >"$WORK/adapters.out" # see start_broker
  "$HUB360" adapters -c "$WORK/hub360.yaml" --listen 127.0.0.1:0 >"$WORK/adapters.out" 2>>"$WORK/adapters.err" &
  ADAPTERS=$!
  PIDS+=($ADAPTERS)
  wait_for_or_exit 30 "$ADAPTERS" grep -q '^adapters: ' "$WORK/adapters.out" ||
    fail "hub360 adapters exited: $(cat "$WORK/adapters.err")"
}

# cursor KEY: the poll cursor LMDB holds for KEY ("source/resource").
cursor() {
  mdb_dump -p -s cursors "$WORK/data/adapters" 2>/dev/null |
    awk -v key=" $1" 'f && prev == key { print substr($0, 2); exit }
                      /^HEADER=END/ { f = 1 } { prev = $0 }'
}
cursor_is() { [ "$(cursor "$1")" = "$2" ]; }

# kill_mid_run CONFIG [PROBE]: runs `project --once` five times, killing
# each run with -9 once `PROBE CONFIG` prints something else than before
# the run (a batch was committed, so every kill lands mid-run; the probe
# is one cheap command, or a run applies much of its events between two
# looks), then a last run to the end. PROBE is by default the store's
# customer count. Fails unless at least 3 of the 5 were still running
# when killed; sets KILLS.
customer_count() { "$HUB360" digest -c "$1" 2>/dev/null | awk '{print $2}' || true; }
probe_moved() { [ "$("$1" "$2")" != "$3" ]; }
kill_mid_run() {
  local cfg=$1 probe=${2:-customer_count} round before pid
  KILLS=0
  for round in 1 2 3 4 5; do
    before=$("$probe" "$cfg")
    "$HUB360" project -c "$cfg" --once 2> "$WORK/kill$round.err" &
    pid=$!
    if wait_for_or_exit 60 "$pid" probe_moved "$probe" "$cfg" "$before"; then
      kill -9 "$pid" 2>/dev/null && KILLS=$((KILLS + 1))
    fi
    wait "$pid" 2>/dev/null || true
  done
  [ "$KILLS" -ge 3 ] || fail "only $KILLS of 5 runs were still running when killed"
  "$HUB360" project -c "$cfg" --once 2> "$WORK/kill.err" ||
    { cat "$WORK/kill.err" >&2; fail "project -c $cfg after the kills"; }
}
