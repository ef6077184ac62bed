#!/usr/bin/env bash
# kill -9 under the mixed load (tests/faults/load.py): webhooks from
# Shopify, HubSpot and WeChat, HubSpot and a mention feed polled from a
# fake vendor, CSV and NDJSON imports; meanwhile one role is killed with
# -9 at random points and restarted, again and again:
#   test_kill.sh projector   `hub360 project` (the adapters keep running)
#   test_kill.sh adapters    `hub360 adapters` (the projector keeps running)
#   test_kill.sh up          `hub360 up`, every role in one process
# The broker outlives the kills: a `hub360 broker` process of its own, or
# the real Kafka of HUB360_TEST_KAFKA. In the end the export and digest
# must equal an uninterrupted reference's on the same input (nothing
# lost, nothing counted twice), and the topics hold exactly the input's
# event ids.
source "$(dirname "$0")/lib.sh"
ROLE=${1:?usage: test_kill.sh projector|adapters|up}
faults_setup
reference

CFG=$WORK/hub360.yaml
case $ROLE in
  projector|adapters)
    role_start adapters adapters -c "$CFG" --listen "127.0.0.1:$PORT"
    role_start projector project -c "$CFG" ;;
  up) role_start up up -c "$CFG" --listen "127.0.0.1:$PORT" ;;
  *) fail "unknown role $ROLE" ;;
esac

# `up` restarts slowest (about 7 s on a real Kafka under AddressSanitizer)
[ "$ROLE" = up ] && seconds=18 || seconds=12
LOAD_T0=$SECONDS
load_start "${LOAD_SECONDS:-$seconds}"
kill_during_load "$ROLE" 3
load_wait
until_views_match 120 "$CFG"
ok "after $KILLS kills of hub360 $ROLE the views reached the reference's"
for role in "${!ROLE_PID[@]}"; do role_stop "$role"; done
faults_compare "$CFG"
