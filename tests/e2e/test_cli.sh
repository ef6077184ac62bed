#!/usr/bin/env bash
# End to end: the command line itself - help, usage errors, config
# checks, the schema catalogue, and the embedded-broker conventions.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

# every command has --help that exits 0 and shows its usage
for cmd in up broker publish tail schemas check; do
  out=$("$HUB360" "$cmd" --help)
  case "$out" in "Usage: hub360 $cmd"*) ;; *) fail "$cmd --help: $out" ;; esac
done
ok "every command has --help"
"$HUB360" --help | grep >/dev/null '^  publish ' || fail "hub360 --help lists commands"
ok "hub360 --help lists the commands"

# unknown options and commands are usage errors (exit 2)
set +e
err=$("$HUB360" publish --bogus 2>&1); rc=$?
set -e
expect_eq "unknown option exit code" "$rc" 2
expect_eq "unknown option message" "$err" "hub360 publish: unknown option --bogus
Try 'hub360 publish --help'."
set +e
err=$("$HUB360" project --once=3 2>&1); rc=$?
set -e
expect_eq "a long option given a value it does not take" "$err/$rc" \
  "hub360 project: option --once takes no argument
Try 'hub360 project --help'./2"
set +e
err=$("$HUB360" get -q 2>&1 | head -n1)
set -e
expect_eq "an unknown short option" "$err" "hub360 get: unknown option -q"
set +e
err=$("$HUB360" frobnicate 2>&1 | head -n1); "$HUB360" frobnicate >/dev/null 2>&1; rc=$?
set -e
expect_eq "unknown command" "$err/$rc" 'hub360: unknown command "frobnicate"/2'
set +e
err=$("$HUB360" help frobnicate 2>&1 | head -n1); "$HUB360" help frobnicate >/dev/null 2>&1; rc=$?
set -e
expect_eq "help on an unknown command" "$err/$rc" 'hub360: unknown command "frobnicate"/2'
set +e
err=$("$HUB360" get mail:ann@example.com 2>&1 | head -n1); "$HUB360" get mail:ann@example.com >/dev/null 2>&1; rc=$?
set -e
expect_eq "get with an unknown identity kind is a usage error" "$err/$rc" \
  "hub360 get: unknown identity kind 'mail' (kinds: email, phone, crm_contact, crm_lead, crm_account, erp_customer, social_handle, wechat_openid, wechat_unionid, external; or sku:CODE)/2"
set +e
err=$("$HUB360" tail --count many 2>&1); rc=$?
set -e
expect_eq "bad option value" "$err/$rc" "hub360 tail: --count: expected a non-negative integer, got \"many\"
Try 'hub360 tail --help'./2"

# map -l: one record per line, as its --help says
F=$HUB360_SOURCE_DIR/tests/fixtures/vendors/shopify_customer_rest_fixture.json
{ jq -c . "$F"; jq -c '.customer.id += 1' "$F"; } >two.ndjson
expect_eq "map -l reads one record per line" \
  "$("$HUB360" map --preset shopify --header 'X-Shopify-Topic: customers/create' -l two.ndjson | jq -r .source.entity_id)" \
  "207119551
207119552"

# check: good and broken configs, with file:line
cat > good.yaml <<'YAML'
kafka:
  brokers: k1:9092,k2:9092
  partitions: 6
  properties: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN}
api: {listen: 0.0.0.0:8360, tokens: [{token: abc, scope: admin}]}
YAML
expect_eq "check accepts a good config" "$("$HUB360" check good.yaml)" "good.yaml: ok"
expect_eq "check takes --config as the other commands do" \
  "$("$HUB360" check --config good.yaml)" "good.yaml: ok"
set +e
err=$("$HUB360" check --reference good.yaml 2>&1 | head -n1)
set -e
expect_eq "check --reference takes no file" "$err" "hub360 check: --reference takes no CONFIG file"
set +e
err=$("$HUB360" broker --brokers kafka:9092 2>&1 | head -n1)
set -e
expect_eq "broker refuses --brokers rather than ignore it" "$err" \
  "hub360 broker: --brokers names a Kafka to use; broker starts the embedded one (point the other commands at a cluster with --brokers instead)"
printf 'api: {listen: 0.0.0.0:8360}\n' >open.yaml
expect_eq "check: a rule of serve and up only is a warning" \
  "$("$HUB360" check open.yaml 2>check.err)/$(cat check.err)" \
  "open.yaml: ok/open.yaml: warning: hub360 serve and hub360 up refuse this file: api.listen is 0.0.0.0:8360 but no api.tokens are configured: without tokens the API answers this machine only; listen on 127.0.0.1 or add tokens"
expect_eq "check takes -c, as its --help says" \
  "$("$HUB360" check -c good.yaml)" "good.yaml: ok"
set +e
err=$("$HUB360" check --config good.yaml typo.yaml 2>&1); rc=$?
set -e
expect_eq "check refuses two files" "$(echo "$err" | head -1)/$rc" \
  'hub360 check: expected one CONFIG file (as CONFIG or --config FILE)/2'
mkdir -p confdir
set +e
err=$("$HUB360" check -c confdir 2>&1); rc=$?
set -e
expect_eq "a directory given as the config says so" "$err/$rc" "confdir: Is a directory/1"
printf 'kafka:\n  brokers: k1:9092\n  partitons: 6\n' > typo.yaml
set +e
err=$("$HUB360" check typo.yaml 2>&1); rc=$?
set -e
expect_eq "check names file:line and key" "$err/$rc" \
  'typo.yaml:3: kafka.partitons: unknown key (did you mean "partitions"?)/1'
printf 'log:\n  level: info\n  format: xml\n' > type.yaml
set +e
err=$("$HUB360" check type.yaml 2>&1); rc=$?
set -e
expect_eq "check names a bad value" "$err/$rc" \
  'type.yaml:3: log.format: expected one of text|json, got "xml"/1'
set +e
err=$("$HUB360" tail --config type.yaml 2>&1); rc=$?
set -e
expect_eq "other commands refuse a broken config with exit 2" "$err/$rc" \
  'hub360 tail: type.yaml:3: log.format: expected one of text|json, got "xml"/2'
"$HUB360" check --reference | grep >/dev/null '^| `kafka.brokers` | string | `embedded` |' ||
  fail "check --reference lists kafka.brokers"
ok "check --reference prints the configuration reference"

# the schema catalogue
expect_eq "schemas list starts with the envelope" \
  "$("$HUB360" schemas list | head -n2)" "1 hub360.Envelope
2 hub360.Customer360"
"$HUB360" schemas show 1 > envelope.json
expect_file_eq "schemas show 1 is the released envelope" envelope.json \
  "$HUB360_SOURCE_DIR/schemas/released/1.avsc"
# a name shows its newest id: the envelope with its sequence
ENVELOPE_ID=$(awk '$2 == "hub360.Envelope" { id = $1 } END { print id }' "$HUB360_SOURCE_DIR/schemas/ids.tsv")
expect_eq "the envelope's newest id" "$ENVELOPE_ID" 56
"$HUB360" schemas show hub360.Envelope > newest.json
expect_file_eq "schemas show hub360.Envelope is the newest released envelope" newest.json \
  "$HUB360_SOURCE_DIR/schemas/released/$ENVELOPE_ID.avsc"
ok "schemas show NAME = schemas show ID"
set +e
err=$("$HUB360" schemas show 99999 2>&1); rc=$?
set -e
expect_eq "schemas show unknown" "$err/$rc" \
  "hub360 schemas: no schema 99999 (see \`hub360 schemas list\`)/1"
"$HUB360" schemas types | grep >/dev/null '^erp.order.placed  *hub360.erp.events hub360.erp.OrderPlaced$' ||
  fail "schemas types lists erp.order.placed"
ok "schemas types"

# schemas check: a removed required field breaks old readers
old="$HUB360_SOURCE_DIR/schemas/erp/payment_received.avsc"
python3 - "$old" > new.avsc <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"] = [f for f in s["fields"] if f["name"] != "amount"]
s["fields"].append({"name": "fee", "type": "long", "default": 0})
print(json.dumps(s))
PY
set +e
out=$("$HUB360" schemas check "$old" new.avsc); rc=$?
set -e
expect_eq "schemas check names the removed required field" "$out/$rc" \
"backward (NEW reads data written with OLD): compatible
forward (OLD reads data written with NEW): 1 breaking change
hub360.erp.PaymentReceived.amount: OLD has this field without a default and NEW does not write it/1"
expect_eq "schemas check of identical files" \
  "$("$HUB360" schemas check "$old" "$old")" \
"backward (NEW reads data written with OLD): compatible
forward (OLD reads data written with NEW): compatible"
set +e
out=$("$HUB360" schemas check --mode backward "$old" new.avsc); rc=$?
set -e
expect_eq "--mode backward ignores the forward break" "$rc" 0

# with brokers: embedded and nothing running, commands say what to do
set +e
err=$("$HUB360" publish --data "$WORK/nothing" /dev/null 2>&1); rc=$?
set -e
expect_eq "no embedded broker running" "$err/$rc" \
  "hub360 publish: kafka.brokers is \"embedded\" but no embedded broker is running for data dir $WORK/nothing: start one with \`hub360 broker\` or \`hub360 up\`, or pass --brokers HOST:PORT/1"

set +e
s=$(date +%s)
err=$("$HUB360" tail --end --timeout 2s --brokers 127.0.0.1:1 2>&1 | tail -n1)
took=$(( $(date +%s) - s ))
set -e
[ "$took" -lt 8 ] || fail "tail --timeout 2s waited $took s for a Kafka it cannot reach"
expect_eq "tail names the Kafka it could not reach, within its --timeout, last" "$err" \
  "hub360 tail: kafka at 127.0.0.1:1: kafka metadata: Local: Broker transport failure"

# hub360 broker: prints its address first, other commands find it
start_broker "$WORK/data"
case "$BOOTSTRAP" in 127.0.0.1:[0-9]*) ;; *) fail "bootstrap line: $BOOTSTRAP" ;; esac
ok "broker prints bootstrap: HOST:PORT first"
"$HUB360" publish --data "$WORK/data" "$HUB360_SOURCE_DIR/schemas/examples/crm.lead.created.json" > p.out
"$HUB360" tail --data "$WORK/data" --from-beginning --count 1 --timeout 30s > t.out
expect_file_eq "publish and tail find the embedded broker of their data dir" t.out \
  "$HUB360_SOURCE_DIR/schemas/examples/crm.lead.created.json"
# a second broker on the same data dir is refused: it would replace
# broker.addr, and the first one's clients would lose it
set +e
err=$("$HUB360" broker --data "$WORK/data" 2>&1 </dev/null); rc=$?
set -e
expect_eq "a second embedded broker on a data dir is refused" "$err/$rc" \
  "hub360 broker: an embedded broker (pid ${PIDS[-1]}) already runs for data dir $WORK/data, at $BOOTSTRAP: use it, or stop it first/1"
expect_eq "and the first one is still found" \
  "$("$HUB360" tail --data "$WORK/data" --from-beginning --count 1 --timeout 30s | jq -r .type)" \
  crm.lead.created
set +e
err=$("$HUB360" tail --data "$WORK/data" cmr --end --timeout 30s 2>&1); rc=$?
set -e
expect_eq "tail names a topic that does not exist (rather than creating it)" \
  "$err/$rc" "hub360 tail: topic cmr does not exist/1"
if command -v kcat >/dev/null; then
  kcat -b "$BOOTSTRAP" -L -t hub360.crm.events | grep >/dev/null 'topic "hub360.crm.events" with 3 partitions' ||
    fail "kcat sees the embedded broker's topics"
  ok "kcat connects to the embedded broker"
fi

# hub360 up: the embedded broker and the projector in one process; the
# example events become customers that `get` finds
"$HUB360" up --data "$WORK/up" --listen 127.0.0.1:0 > up.out 2> up.err &
up=$!
PIDS+=("$up")
wait_for 20 grep -q '^hub360 is up: embedded broker at ' up.out
grep -qF "publish --data '$WORK/up'" up.out ||
  fail "up's suggested commands do not name its data dir: $(cat up.out)"
ok "up suggests commands that find it (--data as it was given)"
cat "$HUB360_SOURCE_DIR"/schemas/examples/*.json | "$HUB360" publish --data "$WORK/up" > /dev/null
wait_for 60 "$HUB360" get --data "$WORK/up" email:ann.li@example.com
ok "up projects what is published: get finds the customer"
api=$(sed -n 's|^api: \(http://[^/]*\)/.*|\1|p' up.out)
curl -sS "$api/metrics" >up.metrics
grep -Eq '^hub360_projector_events_total\{outcome="applied"\} [1-9]' up.metrics ||
  fail "up's /metrics has no applied events: $(grep projector_ up.metrics)"
grep -Eq '^hub360_projector_merges_total [0-9]' up.metrics ||
  fail "up's /metrics has no merge counter"
ok "up's /metrics counts the projector's events (and has its merges)"
kill -TERM "$up"
wait "$up" || fail "up did not exit 0 on SIGTERM: $(cat up.err)"
ok "up stops cleanly on SIGTERM"

# hub360 up with a source: its webhooks feed the projector in the same
# process, from a vendor's request to the customer's view.
cat > up-sources.yaml <<YAML
data_dir: $WORK/up2
sources:
  - name: shop
    system: erp
    preset: shopify
    webhook: {secret: hush}
YAML
"$HUB360" up -c up-sources.yaml --listen 127.0.0.1:0 > up2.out 2> up2.err &
up=$!
PIDS+=("$up")
wait_for 20 grep -q '^webhooks: http://' up2.out
hooks=$(sed -n 's|^webhooks: \(http://[^/]*\)/ingest/.*|\1/ingest|p' up2.out)
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$hooks/shop" \
  -H 'Content-Type: application/json' -H 'X-Shopify-Topic: customers/create' \
  -H 'X-Shopify-Hmac-Sha256: WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8=' \
  --data-binary @"$HUB360_SOURCE_DIR/tests/fixtures/vendors/shopify_customer_rest_fixture.json")
expect_eq "up takes the source's webhooks" "$status" 200
bob_is_there() { "$HUB360" get -c up-sources.yaml email:bob.norman@hostmail.com >/dev/null; }
wait_for 60 bob_is_there
ok "up projects what the webhook brought: get finds the customer"
kill -TERM "$up"
wait "$up" || fail "up with sources did not exit 0 on SIGTERM: $(cat up2.err)"
ok "up with sources stops cleanly on SIGTERM"
