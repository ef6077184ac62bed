# Helpers for hub360's fault tests (tests/faults/test_*.sh): the mixed
# load of load.py through the roles as a user runs them, an uninterrupted
# reference on the same input, and the comparison at the end.
# Sourced after tests/e2e/lib.sh; HUB360_FAULT_SEED picks the run (the
# seed is printed, so a failure can be replayed).
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
FAULTS=$HUB360_SOURCE_DIR/tests/faults
SEED=${HUB360_FAULT_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
RANDOM=$SEED
echo "seed: $SEED (HUB360_FAULT_SEED=$SEED replays this run)"
command -v jq >/dev/null || fail "jq is needed"
SECRETS='{"shop": "shop-secret", "crm": "crm-secret", "wechat": "wechat-token"}'
declare -A ROLE_PID=() ROLE_CMD=()

# free_port: a loopback port nothing listens on now (the webhook senders
# keep one address across restarts, as behind a load balancer), below
# Linux's ephemeral range (32768-60999): the restarts bind it again, and
# an outgoing connection (curl, librdkafka, load.py) could take a port in
# that range in between.
free_port() {
  python3 -c '
import random, socket
for _ in range(200):
    port = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free loopback port below 32000")'
}

# faults_setup: the brokers (a `hub360 broker` process of its own, so it
# outlives the roles' kills, or the real Kafka of HUB360_TEST_KAFKA), the
# fake vendor, the input plan and the configurations: $WORK/hub360.yaml
# for the run under faults, $WORK/ref.yaml for the reference.
faults_setup() {
  local prefix="hub360."
  if [ -n "${HUB360_TEST_KAFKA:-}" ]; then
    BOOTSTRAP=$(cat "$HUB360_TEST_KAFKA")
    prefix="faults$$-$(date +%N)."
  elif [ -z "${BOOTSTRAP:-}" ]; then
    start_broker "$WORK/broker"
  fi
  echo '{"mentions": [], "contacts": []}' >"$WORK/records.json"
  python3 "$HUB360_SOURCE_DIR/tests/e2e/fake_vendor.py" "$WORK/records.json" \
    >"$WORK/vendor.out" 2>"$WORK/vendor.err" &
  PIDS+=($!)
  wait_for 10 grep -q '^port ' "$WORK/vendor.out"
  VENDOR=http://127.0.0.1:$(sed -n 's/^port //p' "$WORK/vendor.out")
  # pages of 20, so a sync spans pages and a kill lands inside one
  curl -fsS -X POST "$VENDOR/_control" -d '{"page_size": 20}' >/dev/null
  PORT=$(free_port)
  URL=http://127.0.0.1:$PORT
  python3 "$FAULTS/load.py" plan --seed "$SEED" --people "${PEOPLE:-60}" "$WORK/plan"
  faults_config hub360 "$prefix" "$WORK/data"
  faults_config ref "${prefix}ref." "$WORK/ref"
}

# faults_config NAME PREFIX DATA_DIR: writes $WORK/NAME.yaml.
faults_config() {
  cat >"$WORK/$1.yaml" <<YAML
kafka:
  brokers: $BOOTSTRAP
  partitions: 3
  topic_prefix: "$2"
  delivery_timeout: ${DELIVERY_TIMEOUT:-30s}
data_dir: $3
api:
  listen: 127.0.0.1:$PORT
log:
  level: info
sources:
  - name: shop
    system: erp
    preset: shopify
    webhook: {secret: shop-secret, ack_timeout: 3s}
  - name: crm
    system: crm
    preset: hubspot
    webhook: {secret: crm-secret, public_url: "https://hooks.example.com", ack_timeout: 3s}
    poll:
      url: $VENDOR
      interval: 300ms
      resources: [contacts]
      auth: {bearer: pat-fault}
      timeout: 3s
      backoff: 100ms
      max_backoff: 1s
  - name: wechat
    system: scrm
    preset: wechat
    webhook: {secret: wechat-token, ack_timeout: 3s}
  - name: listen
    system: scrm
    preset: mention
    poll: {url: $VENDOR, interval: 300ms, timeout: 3s, backoff: 100ms, max_backoff: 1s}
  - name: erpfile
    system: erp
    mapping: $HUB360_SOURCE_DIR/tests/e2e/data/customers.jq
YAML
  mkdir -p "$3"
}

# reference: every event of the plan (`hub360 map` on each input), published
# whole and projected once, uninterrupted: $WORK/ref.ndjson (the export),
# $WORK/ref.digest and $WORK/expected.ids (the event ids, sorted).
reference() {
  local t0=$SECONDS
  bash "$WORK/plan/map.sh" "$WORK/ref.yaml" >"$WORK/expected.ndjson"
  jq -r .event_id "$WORK/expected.ndjson" | sort >"$WORK/expected.ids"
  [ "$(sort -u "$WORK/expected.ids" | wc -l)" -eq "$(wc -l <"$WORK/expected.ids")" ] ||
    fail "the plan maps two inputs to one event id"
  "$HUB360" publish -c "$WORK/ref.yaml" "$WORK/expected.ndjson" >/dev/null
  "$HUB360" project -c "$WORK/ref.yaml" --once 2>"$WORK/ref.err" ||
    fail "reference projection: $(cat "$WORK/ref.err")"
  "$HUB360" export -c "$WORK/ref.yaml" >"$WORK/ref.ndjson"
  "$HUB360" digest -c "$WORK/ref.yaml" >"$WORK/ref.digest"
  # What the inputs hold, counted on their own: the reference is right
  # before anything is compared with it.
  python3 - "$WORK/plan" "$WORK/ref.ndjson" <<'PY' || fail "the reference views miss inputs"
import json, sys, os
plan, views = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
hooks = [json.loads(l) for l in open(os.path.join(plan, "webhooks.jsonl"))]
orders = {h["body"]["id"] for h in hooks if h["source"] == "shop" and h["topic"].startswith("orders/")}
vendor = json.load(open(os.path.join(plan, "vendor.json")))
exported = sum(1 for n in os.listdir(plan) if n.startswith("mentions-")
               for _ in open(os.path.join(plan, n)))
got_orders = sum(v["orders"]["count"] for v in views)
got_mentions = sum(v["social"]["mentions"] for v in views)
assert got_orders == len(orders), f"orders: {got_orders} in the views, {len(orders)} sent"
assert got_mentions == len(vendor["mentions"]) + exported, \
    f"mentions: {got_mentions} in the views, {len(vendor['mentions']) + exported} served"
PY
  ok "reference: $(wc -l <"$WORK/expected.ids") events, $(wc -l <"$WORK/ref.ndjson") customers ($((SECONDS - t0)) s)"
}

# role_start NAME ARGS...: runs `hub360 ARGS` in the background (output
# appended to $WORK/NAME.out and .err), remembered for role_restart; waits
# until it serves HTTP when it listens.
role_start() {
  local name=$1; shift
  ROLE_CMD[$name]="$*"
  "$HUB360" "$@" >>"$WORK/$name.out" 2>>"$WORK/$name.err" &
  ROLE_PID[$name]=$!
  PIDS+=($!)
  case " $* " in
    *" --listen "*) wait_for_or_exit 60 "${ROLE_PID[$name]}" curl -fsS "$URL/healthz" >/dev/null ||
                      fail "hub360 $name exited: $(tail -n 20 "$WORK/$name.err")" ;;
  esac
}

role_restart() { local name=$1; role_start "$name" ${ROLE_CMD[$name]}; }

# forget PID: no longer ours to stop at the end (it was reaped; the
# number may go to another process).
forget() {
  local keep=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

# role_kill NAME: kill -9, and reaped.
role_kill() {
  kill -9 "${ROLE_PID[$1]}" 2>/dev/null || true
  wait "${ROLE_PID[$1]}" 2>/dev/null || true
  forget "${ROLE_PID[$1]}"
}

# role_stop NAME: SIGTERM; fails the test unless it exits 0 within 60 s.
role_stop() {
  local pid=${ROLE_PID[$1]}
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      stacks "$pid" "$1"
      fail "hub360 $1 still running 60 s after SIGTERM"
    fi
    sleep 0.1
  done
  local rc=0
  wait "$pid" || rc=$?
  forget "$pid"
  [ "$rc" -eq 0 ] || fail "hub360 $1 exited $rc on SIGTERM: $(tail -n 20 "$WORK/$1.err")"
}

# load_start DURATION: the mixed load in the background (LOAD, its pid).
load_start() {
  python3 "$FAULTS/load.py" send --dir "$WORK/plan" --url "$URL" \
    --records "$WORK/records.json" --secrets "$SECRETS" --duration "$1" \
    --import "$HUB360 import -c $WORK/hub360.yaml" --log "$WORK/acks.jsonl" \
    >"$WORK/load.out" 2>"$WORK/load.err" &
  LOAD=$!
  PIDS+=($LOAD)
}

# load_wait: the load's end; fails the test unless every request got its 2xx.
load_wait() {
  local rc=0
  wait "$LOAD" || rc=$?
  forget "$LOAD"
  [ "$rc" -eq 0 ] || fail "the load failed: $(cat "$WORK/load.err")"
  cat "$WORK/load.out"
  expect_eq "every webhook request got a 2xx" "$(wc -l <"$WORK/acks.jsonl")" \
    "$(wc -l <"$WORK/plan/webhooks.jsonl")"
}

# kill_during_load ROLE MIN: kill -9 ROLE at random points (0.3 to 2.5 s
# after it is back) and restart it, until the load has ended and MIN
# kills are done. Where restarts are slow (a loaded machine, a sanitizer
# build) the last kills land after the load, while the pollers and the
# projector still catch up; at least one must land during it.
kill_during_load() {
  local role=$1 min=$2 kills=0 during=0 ms
  while kill -0 "$LOAD" 2>/dev/null || [ "$kills" -lt "$min" ]; do
    ms=$((300 + RANDOM % 2200))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    role_kill "$role"
    kills=$((kills + 1))
    if kill -0 "$LOAD" 2>/dev/null; then
      during=$((during + 1))
      echo "kill -9 of hub360 $role #$kills at $((SECONDS - LOAD_T0)) s"
    else
      echo "kill -9 of hub360 $role #$kills at $((SECONDS - LOAD_T0)) s (after the load)"
    fi
    role_restart "$role"
  done
  [ "$during" -ge 1 ] || fail "no kill of hub360 $role landed during the load"
  KILLS=$kills
}

# roles_report: whether each role still runs, and the end of its log
# (what a failure that leaves the views behind needs to be explained).
roles_report() {
  local name state
  for name in "${!ROLE_PID[@]}"; do
    if kill -0 "${ROLE_PID[$name]}" 2>/dev/null; then state=running; else state=exited; fi
    echo "--- hub360 $name (${ROLE_PID[$name]}, $state): the end of $name.err"
    tail -n 25 "$WORK/$name.err" 2>/dev/null | cut -c1-400 || true
  done
}

# until_views_match SECONDS CONFIG: waits until the store's digest is the
# reference's (the pollers may still be catching up).
views_match() { [ "$("$HUB360" digest -c "$1" 2>/dev/null)" = "$(cat "$WORK/ref.digest")" ]; }
until_views_match() {
  local limit=$1 cfg=$2 deadline=$((SECONDS + $1))
  until views_match "$cfg"; do
    if [ $SECONDS -ge $deadline ]; then
      "$HUB360" export -c "$cfg" >"$WORK/got.ndjson" 2>/dev/null || true
      roles_report >&2
      echo "--- the views: $(wc -l <"$WORK/got.ndjson") customers, the reference $(wc -l <"$WORK/ref.ndjson")" >&2
      diff -u "$WORK/ref.ndjson" "$WORK/got.ndjson" | head -n 30 | cut -c1-400 >&2 || true
      fail "the views did not reach the reference's within ${limit}s (diff and roles above)"
    fi
    sleep 0.5
  done
}

# faults_compare CONFIG: after the roles stopped, a last `project --once`
# (whatever is on the topics is applied), then the export and digest must
# be the reference's, and the events on the topics exactly the plan's ids.
faults_compare() {
  local cfg=$1
  "$HUB360" project -c "$cfg" --once 2>"$WORK/last.err" || fail "project --once: $(cat "$WORK/last.err")"
  "$HUB360" export -c "$cfg" >"$WORK/got.ndjson"
  expect_file_eq "the export equals the uninterrupted reference's" "$WORK/got.ndjson" "$WORK/ref.ndjson"
  expect_eq "the digest equals the reference's" "$("$HUB360" digest -c "$cfg")" "$(cat "$WORK/ref.digest")"
  "$HUB360" tail -c "$cfg" crm erp scrm --from-beginning --end --timeout 30s 2>/dev/null |
    jq -r .event_id >"$WORK/topics.ids"
  expect_file_eq "the topics hold exactly the plan's event ids (some more than once)" \
    <(sort -u "$WORK/topics.ids") "$WORK/expected.ids"
  ok "$(wc -l <"$WORK/topics.ids") events on the topics for $(wc -l <"$WORK/expected.ids") distinct"
}
