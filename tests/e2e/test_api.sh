#!/usr/bin/env bash
# The read API as a reporting tool uses it: `hub360 serve` over a store
# the projector filled from the example events. Every route's success
# and error paths with their exact status and body; token scopes; the
# loopback-only default without tokens.
source "$(dirname "$0")/lib.sh"

use_brokers
printf 'segments:\n  buyers: "orders.count >= 1"\n' >>"$WORK/hub360.yaml"
cat "$HUB360_SOURCE_DIR"/schemas/examples/*.json |
  "$HUB360" publish -c "$WORK/hub360.yaml" >/dev/null
"$HUB360" project -c "$WORK/hub360.yaml" --once 2>/dev/null

cat >"$WORK/tokens.yaml" <<YAML
$(cat "$WORK/hub360.yaml")
api:
  tokens:
    - {token: reader-secret, scope: read}
    - {token: admin-secret, scope: admin}
YAML

get() { # get PATH [curl args]: "STATUS BODY"
  local path=$1; shift
  curl -sS -o "$WORK/body" -w '%{http_code}' "$@" "$API$path" >"$WORK/status"
  echo "$(cat "$WORK/status") $(cat "$WORK/body")"
}

serve "$WORK/hub360.yaml"
ANN=$("$HUB360" get -c "$WORK/hub360.yaml" email:ann.li@example.com | jq -r .id)
expect_eq "GET /v1/customers/{id} is the view get prints" \
  "$(get "/v1/customers/$ANN")" \
  "200 $("$HUB360" get -c "$WORK/hub360.yaml" "$ANN")"
ALIAS=$(jq -r '.aliases[0]' "$WORK/body")
expect_eq "an alias answers the merged customer and says so" \
  "$(get "/v1/customers/$ALIAS" | cut -c1-3) $(jq -c '[.resolved_from, .id]' "$WORK/body")" \
  "200 [\"$ALIAS\",\"$ANN\"]"
expect_eq "lookup by email, normalized like the projector" \
  "$(get '/v1/customers?email=%20Ann.Li@Example.com' >/dev/null; jq -c '[.resolved_from, .id]' "$WORK/body")" \
  "[\"email: Ann.Li@Example.com\",\"$ANN\"]"
expect_eq "lookup by kind and value" \
  "$(get "/v1/customers?kind=email&value=ann.li@example.com" >/dev/null; jq -r .id "$WORK/body")" "$ANN"
expect_eq "an unknown customer is 404" \
  "$(get /v1/customers/cus_nobody)" \
  '404 {"error":{"code":"not_found","message":"no customer cus_nobody"}}'
expect_eq "an ambiguous lookup is 400" \
  "$(get '/v1/customers?email=a@b.c&phone=1')" \
  '400 {"error":{"code":"bad_parameter","message":"look up by one of email=, phone= or kind= with value="}}'
expect_eq "a bad limit is 400" \
  "$(get '/v1/customers?limit=5000')" \
  '400 {"error":{"code":"bad_parameter","message":"limit: expected an integer from 1 to 1000, got \"5000\""}}'
expect_eq "a page of none is 400, not a cursor back to the start" \
  "$(get '/v1/customers?limit=0')" \
  '400 {"error":{"code":"bad_parameter","message":"limit: expected an integer from 1 to 1000, got \"0\""}}'

# Paging: every customer exactly once, in id order, as export has them.
"$HUB360" export -c "$WORK/hub360.yaml" | jq -r .id >"$WORK/all.ids"
: >"$WORK/paged.ids"
cursor=
while :; do
  get "/v1/customers?limit=2${cursor:+&cursor=$cursor}" >/dev/null
  jq -r '.customers[].id' "$WORK/body" >>"$WORK/paged.ids"
  cursor=$(jq -r '.next_cursor // empty' "$WORK/body")
  [ -n "$cursor" ] || break
done
expect_file_eq "pages of 2 list every customer once, in id order" "$WORK/paged.ids" "$WORK/all.ids"
"$HUB360" export -c "$WORK/hub360.yaml" |
  jq -r 'select(.segments | index("buyers")) | .id' >"$WORK/buyers.ids"
[ -s "$WORK/buyers.ids" ] && [ "$(wc -l <"$WORK/all.ids")" -gt "$(wc -l <"$WORK/buyers.ids")" ] ||
  fail "the examples should make some customers buyers, not all: $(wc -l <"$WORK/buyers.ids")"
expect_eq "a segment lists its members only" \
  "$(get '/v1/customers?segment=buyers&limit=1000' | cut -c1-3) $(jq -r '.customers[].id' "$WORK/body" | paste -sd' ')" \
  "200 $(paste -sd' ' "$WORK/buyers.ids")"
expect_eq "an unknown segment lists nobody" \
  "$(get '/v1/customers?segment=no-such-segment')" \
  '200 {"customers":[],"next_cursor":null}'

expect_eq "the timeline, newest first, paged" \
  "$(get "/v1/customers/$ANN/timeline?limit=2" | cut -c1-3) $(jq -c '[.customer_id, (.items | length), (.next | type), ([.items[].at] | . == (sort | reverse))]' "$WORK/body")" \
  "200 [\"$ANN\",2,\"string\",true]"
next=$(jq -r .next "$WORK/body")
expect_eq "the next timeline page continues where the first ended" \
  "$(get "/v1/customers/$ANN/timeline?limit=100&before=$next" >/dev/null; jq '.items | length' "$WORK/body")" \
  "$(( $("$HUB360" get -c "$WORK/hub360.yaml" --timeline --limit 1000 "$ANN" | jq '.items | length') - 2 ))"
expect_eq "a cursor the API did not give is 400" \
  "$(get "/v1/customers/$ANN/timeline?before=garbage")" \
  '400 {"error":{"code":"bad_parameter","message":"before: not a cursor this API gave"}}'

expect_eq "the change feed pages on its sequence numbers" \
  "$(get '/v1/changes?since=0&limit=3' >/dev/null; jq -c '[.changes[].seq, .next_since]' "$WORK/body")" \
  '[1,2,3,3]'
expect_eq "schema ids answer like a registry" \
  "$(get /schemas/ids/1 >/dev/null; jq -r '.schema | fromjson | .name' "$WORK/body")" "Envelope"
expect_eq "an unknown schema id is the registry's 404" \
  "$(get /schemas/ids/999)" '404 {"error":{"code":"40403","message":"Schema 999 not found"}}'
expect_eq "healthz" "$(get /healthz)" '200 {"status":"ok"}'
# The OpenAPI document is true: every route it lists is routed here
# (never "no route" or 405), and the document parses.
get /openapi.json >/dev/null
jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\(.) \($p)"' "$WORK/body" >"$WORK/routes"
expect_eq "/openapi.json lists every route" "$(wc -l <"$WORK/routes")" 16
while read -r method path; do
  case "$path" in /ingest/*) continue ;; esac # webhooks: adapters and up
  path=${path//\{id\}/cus_nobody}
  case "$path" in /schemas/ids/*) path=/schemas/ids/1 ;; esac
  method=${method^^}
  if [ "$method" = GET ]; then answer=$(get "$path"); else answer=$(get "$path" -X "$method" -d "{}"); fi
  case "$answer" in
    *'"no route for'*|*method_not_allowed*) fail "$method $path is documented but not routed: $answer" ;;
  esac
done <"$WORK/routes"
ok "every documented route is routed"
expect_eq "readyz: the store opens, Kafka answers, the projector is caught up" \
  "$(get /readyz)" '200 {"ready":true,"checks":{"store":"ok","kafka":"ok","projector":"ok"}}'

# Control requests become control events the projector applies.
status=$(get "/v1/customers/$ANN/forget" -X POST -d '{"reason":"test_data"}')
case "$status" in 202\ \{\"event_id\":*) ok "forget is 202 with its event id" ;; *) fail "forget: $status" ;; esac
forget_id=$(jq -r .event_id "$WORK/body")
status=$(get /v1/identity/link -X POST \
  -d '{"customer_ids":["cus_aaaaaaaaaaaaaaaa","cus_bbbbbbbbbbbbbbbb"]}')
case "$status" in 202\ \{\"event_id\":*) ok "a link of two customer ids is 202" ;; *) fail "link: $status" ;; esac
link_id=$(jq -r .event_id "$WORK/body")
"$HUB360" tail -c "$WORK/hub360.yaml" control --from-beginning --end --timeout 30s >"$WORK/control.ndjson"
expect_eq "the forget is on the control topic" \
  "$(jq -c "select(.event_id == \"$forget_id\") | [.type, .payload.customer_id, .payload.reason]" "$WORK/control.ndjson")" \
  "[\"customer.forget\",\"$ANN\",\"test_data\"]"
expect_eq "a link of customer ids is keyed by the first one" \
  "$(jq -r "select(.event_id == \"$link_id\") | .source.entity_id" "$WORK/control.ndjson")" \
  cus_aaaaaaaaaaaaaaaa
expect_eq "a link the schemas reject is 400 naming the field" \
  "$(get /v1/identity/link -X POST -d '{"identities":[{"kind":"fax","value":"1"}]}')" \
  '400 {"error":{"code":"invalid_request","message":"payload.identities[0].kind: expected one of email, phone, crm_contact, crm_lead, crm_account, erp_customer, social_handle, wechat_openid, wechat_unionid, external, got string \"fax\""}}'
expect_eq "a link body that is not JSON is 400" \
  "$(get /v1/identity/link -X POST -d '[1')" \
  '400 {"error":{"code":"malformed_body","message":"expected a JSON object: '"'"']'"'"' expected near end of file"}}'
# `hub360 rebuild` swaps in a new store generation while serve runs: the
# API follows it (a customer that exists only in the new one is found).
"$HUB360" rebuild -c "$WORK/hub360.yaml" >/dev/null 2>&1 || fail "rebuild failed"
jq -c '.event_id = "7f0e4a1c-9b2d-5c3e-8f41-0a1b2c3d4e5f" | .source.entity_id = "00Qrebuilt"
       | .identities = [{"kind": "email", "value": "after.rebuild@example.com"}]' \
  "$HUB360_SOURCE_DIR/schemas/examples/crm.lead.created.json" |
  "$HUB360" publish -c "$WORK/hub360.yaml" >/dev/null
"$HUB360" project -c "$WORK/hub360.yaml" --once 2>/dev/null
found_after_rebuild() { [ "$(get '/v1/customers?email=after.rebuild@example.com' | cut -c1-3)" = 200 ]; }
wait_for 10 found_after_rebuild
ok "after a rebuild the API reads the new store generation"
# Ann was forgotten by now (the rebuild applied the forget above).
LEAD=/v1/customers?email=after.rebuild@example.com
# A second process on the same address is refused: it would otherwise
# take half of the requests (SO_REUSEPORT) without a word.
rc=0; "$HUB360" serve -c "$WORK/hub360.yaml" --listen "${API#http://}" \
  >/dev/null 2>"$WORK/second.err" || rc=$?
expect_eq "a second serve on the same address exits 1" "$rc" 1
expect_eq "and says the address is in use" "$(tail -n1 "$WORK/second.err")" \
  "hub360 serve: cannot listen on ${API#http://} (in use, or not an address of this machine)"
kill -INT "$SERVE"
rc=0; wait "$SERVE" || rc=$?
expect_eq "SIGINT stops serve with exit 0" "$rc" 0

# Tokens: read can read, only admin can change; none at all is 401.
serve "$WORK/tokens.yaml"
expect_eq "no token is 401" \
  "$(get "$LEAD")" \
  '401 {"error":{"code":"unauthorized","message":"send Authorization: Bearer <token>"}}'
expect_eq "an unknown token is 401" \
  "$(get "$LEAD" -H 'Authorization: Bearer guess')" \
  '401 {"error":{"code":"unauthorized","message":"unknown token"}}'
for open_route in /healthz /readyz /metrics /openapi.json /schemas/ids/1; do
  expect_eq "with tokens, $open_route is open" "$(get "$open_route" >/dev/null; cat "$WORK/status")" 200
done
expect_eq "a read token reads" \
  "$(get "$LEAD" -H 'Authorization: Bearer reader-secret' | cut -c1-3)" "200"
expect_eq "a read token cannot forget" \
  "$(get "/v1/customers/$ANN/forget" -X POST -H 'Authorization: Bearer reader-secret')" \
  '403 {"error":{"code":"forbidden","message":"this token'"'"'s scope is read; this needs admin"}}'
expect_eq "an admin token can" \
  "$(get "/v1/customers/$ANN/forget" -X POST -H 'Authorization: Bearer admin-secret' | cut -c1-3)" "202"

# SIGHUP re-reads the file: a new token works and the old one no longer;
# a broken file is refused, logged, and the server keeps its settings.
sed -i 's/reader-secret/rotated-secret/' "$WORK/tokens.yaml"
kill -HUP "$SERVE"
rotated() { [ "$(get "$LEAD" -H 'Authorization: Bearer rotated-secret' | cut -c1-3)" = 200 ]; }
wait_for 10 rotated
ok "SIGHUP: the rotated token reads"
expect_eq "SIGHUP: the old token is gone" \
  "$(get "$LEAD" -H 'Authorization: Bearer reader-secret' | cut -c1-3)" "401"
echo "api: [broken" >>"$WORK/tokens.yaml"
kill -HUP "$SERVE"
wait_for 10 grep -q 'SIGHUP: .*tokens.yaml:.*keeping the configuration in use' "$WORK/serve.err"
expect_eq "SIGHUP with a broken file keeps serving with the old settings" \
  "$(get "$LEAD" -H 'Authorization: Bearer rotated-secret' | cut -c1-3)" "200"
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

# One event the projector has not seen, and no lag allowed: not ready,
# and the check says how far behind.
{ cat "$WORK/hub360.yaml"; printf 'api:\n  ready_max_lag: 0\n'; } >"$WORK/strict.yaml"
"$HUB360" project -c "$WORK/hub360.yaml" --once 2>/dev/null # the control events above
"$HUB360" publish -c "$WORK/hub360.yaml" "$HUB360_SOURCE_DIR/schemas/examples/crm.lead.created.json" >/dev/null
serve "$WORK/strict.yaml"
expect_eq "readyz: a projector behind is not ready, and says by how much" \
  "$(get /readyz)" '503 {"ready":false,"checks":{"store":"ok","kafka":"ok","projector":"1 events behind (at most 0)"}}'
curl -sS "$API/metrics" >"$WORK/metrics"
grep -q '^hub360_projector_lag 1$' "$WORK/metrics" || fail "/metrics has no hub360_projector_lag 1"
expect_eq "/metrics: the lag per partition adds up" \
  "$(awk '/^hub360_projector_partition_lag\{/ { s += $2 } END { print s }' "$WORK/metrics")" 1
grep -Eq '^hub360_store_map_bytes [1-9]' "$WORK/metrics" || fail "/metrics has no store map size"
grep -Eq '^hub360_store_used_bytes [1-9]' "$WORK/metrics" || fail "/metrics has no store use"
grep -Eq '^hub360_store_readers [1-9]' "$WORK/metrics" || fail "/metrics has no store readers"
ok "/metrics has the projector's lag and the store's size, use and readers"
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

set +e
"$HUB360" serve -c "$WORK/hub360.yaml" --listen 0.0.0.0:0 >/dev/null 2>"$WORK/err"
code=$?
set -e
expect_eq "without tokens the API refuses to listen beyond loopback" \
  "$code:$(grep 'serve:' "$WORK/err")" \
  "2:hub360 serve: api.listen is 0.0.0.0:0 but no api.tokens are configured: without tokens the API answers this machine only; listen on 127.0.0.1 or add tokens"

# hub360 project --listen serves /healthz and /metrics for orchestrators.
"$HUB360" project -c "$WORK/hub360.yaml" --listen 127.0.0.1:0 >/dev/null 2>"$WORK/project.err" &
PROJECT=$!
PIDS+=($PROJECT)
wait_for 30 grep -q 'metrics at http://' "$WORK/project.err"
PAPI=$(sed -n 's|.*metrics at \(http://[^/]*\)/metrics.*|\1|p' "$WORK/project.err" | head -n1)
expect_eq "project --listen answers /healthz" "$(curl -sS "$PAPI/healthz")" '{"status":"ok"}'
batches() { curl -sS -o "$WORK/pmetrics" "$PAPI/metrics" && grep -Eq '^hub360_projector_batches_total [1-9]' "$WORK/pmetrics"; }
wait_for 60 batches
ok "project --listen counts its batches on /metrics"
# Two customers of earlier batches joined on request: one merge counted.
read -r c1 c2 < <("$HUB360" export -c "$WORK/hub360.yaml" | jq -r .id | head -n2 | xargs)
jq -c --arg a "$c1" --arg b "$c2" \
   '.event_id = "2c9e0f4b-6a1d-5e7f-9b3c-8d2e1f0a4b5c" | .payload.identities = []
    | .payload.customer_ids = [$a, $b] | .source.entity_id = $a' \
  "$HUB360_SOURCE_DIR/schemas/examples/identity.link.json" |
  "$HUB360" publish -c "$WORK/hub360.yaml" >/dev/null
merged() { curl -sS -o "$WORK/pmetrics" "$PAPI/metrics" && grep -Eq '^hub360_projector_merges_total [1-9]' "$WORK/pmetrics"; }
wait_for 60 merged
expect_eq "the merged customer answers for both ids" \
  "$("$HUB360" get -c "$WORK/hub360.yaml" "$c2" | jq -r .id)" \
  "$("$HUB360" get -c "$WORK/hub360.yaml" "$c1" | jq -r .id)"
ok "a merge of customers of earlier batches is counted on /metrics"
kill -TERM "$PROJECT"; wait "$PROJECT" || fail "project did not stop cleanly on SIGTERM"

# Lookups normalize as the projector that wrote the store does, with its
# identity.default_region (here US), not the built-in default (CN).
sed "s|^data_dir: .*|data_dir: $WORK/us|" "$WORK/hub360.yaml" >"$WORK/us.yaml"
printf 'identity:\n  default_region: US\n' >>"$WORK/us.yaml"
jq -c '.event_id = "5b1f7d2e-3c4a-5d6e-8f90-1a2b3c4d5e6f" | .source.entity_id = "00Qus"
       | .identities = [{"kind": "phone", "value": "(415) 555-0100"}]' \
  "$HUB360_SOURCE_DIR/schemas/examples/crm.lead.created.json" |
  "$HUB360" publish -c "$WORK/us.yaml" >/dev/null
"$HUB360" project -c "$WORK/us.yaml" --once 2>/dev/null
expect_eq "a national phone number finds its customer with the store's region" \
  "$("$HUB360" get -c "$WORK/hub360.yaml" --data "$WORK/us" 'phone:415 555 0100' | jq -r '.identities[0].value')" \
  "+14155550100"
