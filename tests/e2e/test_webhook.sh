#!/usr/bin/env bash
# Webhooks end to end: `hub360 adapters` serving POST /ingest/{source} as
# a vendor calls it. Every error status with its exact JSON body; a 200
# only once the events are on Kafka (checked with `tail`); a re-delivery
# yields the same event ids; 503 with Retry-After when Kafka is gone.
source "$(dirname "$0")/lib.sh"
FIX=$HUB360_SOURCE_DIR/tests/fixtures/vendors

use_brokers
cat >>"$WORK/hub360.yaml" <<YAML
api:
  body_limit: 64KiB
sources:
  - name: shop
    system: erp
    preset: shopify
    webhook: {secret: hush, ack_timeout: 3s}
  - name: social
    system: scrm
    preset: meta
    webhook: {secret: test_app_secret, verify_token: tok-123}
  - name: crm
    system: crm
    preset: hubspot
    webhook:
      secret: yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy
      public_url: https://hooks.example.com
  - name: crm3
    system: crm
    preset: hubspot
    webhook:
      secret: yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy
      public_url: https://hooks.example.com
      min_version: v3
  - name: frappe
    system: erp
    preset: erpnext
    webhook: {secret: frappe-secret}
  - name: sf
    system: crm
    preset: salesforce
    webhook: {secret: relay-secret}
  - name: oa
    system: scrm
    preset: wechat
    webhook: {secret: oatoken}
YAML

"$HUB360" adapters -c "$WORK/hub360.yaml" --listen 127.0.0.1:0 \
  >"$WORK/adapters.out" 2>"$WORK/adapters.err" &
ADAPTERS=$!
PIDS+=($ADAPTERS)
wait_for_or_exit 30 "$ADAPTERS" grep -q '^adapters: ' "$WORK/adapters.out" ||
  fail "hub360 adapters exited: $(cat "$WORK/adapters.err")"
ADDR=$(sed -n 's/^listening: //p' "$WORK/adapters.out")
URL=http://$ADDR/ingest

# post NAME [curl args...]: prints "STATUS BODY".
post() {
  curl -sS -o "$WORK/body" -w '%{http_code}' "$@" >"$WORK/status"
  echo "$(cat "$WORK/status") $(cat "$WORK/body")"
}
SHOPIFY_SIG=WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8=
shop() {
  post -X POST "$URL/shop" -H 'Content-Type: application/json' \
    -H 'X-Shopify-Topic: customers/create' "$@"
}

expect_eq "a signed Shopify webhook is accepted once Kafka has it" \
  "$(shop -H "X-Shopify-Hmac-Sha256: $SHOPIFY_SIG" --data-binary @"$FIX/shopify_customer_rest_fixture.json")" \
  '200 {"accepted":1}'
expect_eq "a wrong signature is 401" \
  "$(shop -H 'X-Shopify-Hmac-Sha256: AAAAFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8=' --data-binary @"$FIX/shopify_customer_rest_fixture.json")" \
  '401 {"error":{"code":"bad_signature","message":"signature mismatch"}}'
expect_eq "a missing signature is 401" \
  "$(shop --data-binary @"$FIX/shopify_customer_rest_fixture.json")" \
  '401 {"error":{"code":"bad_signature","message":"missing X-Shopify-Hmac-Sha256 header"}}'
expect_eq "an unknown source is 404" \
  "$(post -X POST "$URL/nope" -H 'Content-Type: application/json' -d '{}')" \
  "404 {\"error\":{\"code\":\"unknown_source\",\"message\":\"no source named 'nope' takes webhooks here\"}}"
expect_eq "a form body is 415" \
  "$(post -X POST "$URL/shop" -d 'a=b')" \
  "415 {\"error\":{\"code\":\"unsupported_media_type\",\"message\":\"content type 'application/x-www-form-urlencoded': send application/json (or text/xml for XML pushes)\"}}"
head -c 70000 /dev/zero | tr '\0' 'x' >"$WORK/big"
expect_eq "a body over api.body_limit is 413" \
  "$(shop --data-binary @"$WORK/big")" \
  '413 {"error":{"code":"body_too_large","message":"the body is 70000 bytes; the limit is 65536"}}'
# Signed bodies that are not JSON, or that the mapping cannot turn into
# valid events: 400 naming the problem, nothing produced.
sign() { openssl dgst -sha256 -hmac hush -binary "$1" | base64; }
printf '{"customer": ' >"$WORK/broken.json"
expect_eq "a malformed body is 400" \
  "$(shop -H "X-Shopify-Hmac-Sha256: $(sign "$WORK/broken.json")" --data-binary @"$WORK/broken.json")" \
  '400 {"error":{"code":"malformed_body","message":"JSON body: invalid JSON at column 13: unexpected token near end of file"}}'
jq -c '.customer.updated_at = "yesterday"' "$FIX/shopify_customer_rest_fixture.json" >"$WORK/bad-time.json"
status=$(shop -H "X-Shopify-Hmac-Sha256: $(sign "$WORK/bad-time.json")" --data-binary @"$WORK/bad-time.json")
case "$status" in
  '200 {"accepted":0,"dead_lettered":1,"error":{"code":"mapping_failed","message":"event 1 (erp.customer.upserted): occurred_at'*) ok "an event the schemas reject is a dead letter, named in the answer" ;;
  *) fail "an event the schemas reject: got $status" ;;
esac

# A HubSpot batch with one bad event: the good one is produced, the body
# goes to the dead-letter topic (HubSpot does not retry a 400), and its
# dead letter carries the request's headers without credentials.
HB=$FIX/hubspot_webhook_contact_propertyChange_and_creation_docs.json
jq -c '.[1].occurredAt = null' "$HB" >"$WORK/batch.json"
v1=$({ printf '%s' yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy; cat "$WORK/batch.json"; } | sha256sum | cut -d' ' -f1)
expect_eq "a batch with a bad event: the good one is accepted, the body dead-lettered" \
  "$(post -X POST "$URL/crm" -H 'Content-Type: application/json' \
      -H 'X-HubSpot-Signature-Version: v1' -H "X-HubSpot-Signature: $v1" \
      -H 'Authorization: Bearer not-for-the-dead-letters' \
      --data-binary @"$WORK/batch.json")" \
  '200 {"accepted":1,"dead_lettered":1,"error":{"code":"mapping_failed","message":"event 2 (crm.contact.upserted): occurred_at: expected RFC 3339 time string, got null"}}'
"$HUB360" tail -c "$WORK/hub360.yaml" deadletter --from-beginning --end --timeout 30s >"$WORK/dead.ndjson"
expect_eq "the dead letters: the bodies as they came, with error, source and adapter" \
  "$(jq -c '[.key, .headers.source, .headers.adapter, .headers.error[0:40], (.value | type)]' "$WORK/dead.ndjson" | sort)" \
  '["crm","crm","webhook","event 2 (crm.contact.upserted): occurred","array"]
["shop","shop","webhook","event 1 (erp.customer.upserted): occurre","object"]'
expect_eq "the batch's dead letter is its body" \
  "$(jq -c 'select(.key == "crm") | .value' "$WORK/dead.ndjson")" "$(jq -c . "$WORK/batch.json")"
expect_eq "its meta keeps the vendor's headers, not the credentials" \
  "$(jq -r 'select(.key == "crm") | .headers.meta | fromjson | [.via, .headers["x-hubspot-signature-version"], (.headers | has("authorization"))] | @tsv' "$WORK/dead.ndjson")" \
  "$(printf 'webhook\tv1\tfalse')"
"$HUB360" tail -c "$WORK/hub360.yaml" crm --from-beginning --end --timeout 30s >"$WORK/crm.ndjson"
expect_eq "the batch's good event is on Kafka" \
  "$(jq -r 'select(.source.entity_id == "1246965" or .source.entity_id == "1246978") | .source.entity_id' "$WORK/crm.ndjson")" \
  1246965

# Shopify's customers/redact (a mandatory compliance webhook): the shop's
# erasure request becomes customer.forget on the control topic.
RD=$FIX/shopify_customers_redact_docs_shape.json
expect_eq "customers/redact is accepted" \
  "$(post -X POST "$URL/shop" -H 'Content-Type: application/json' -H 'X-Shopify-Topic: customers/redact' \
      -H "X-Shopify-Hmac-Sha256: $(sign "$RD")" --data-binary @"$RD")" \
  '200 {"accepted":1}'
"$HUB360" tail -c "$WORK/hub360.yaml" control --from-beginning --end --timeout 30s >"$WORK/control.ndjson"
expect_eq "as a forget of the shop's customer" \
  "$(jq -c '[.type, .source.kind, .payload.identity.kind, .payload.identity.value, .payload.reason]' "$WORK/control.ndjson")" \
  '["customer.forget","hub","erp_customer","shop:191167","gdpr_erasure"]'

# Meta: the subscription handshake, and a signed page comment.
expect_eq "the Meta handshake answers the challenge" \
  "$(post "$URL/social?hub.mode=subscribe&hub.verify_token=tok-123&hub.challenge=1158201444")" \
  '200 1158201444'
expect_eq "a handshake with the wrong token is 401" \
  "$(post "$URL/social?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")" \
  '401 {"error":{"code":"bad_signature","message":"hub.verify_token mismatch"}}'

# HubSpot: v1 (the docs' own vector), and v3 over method, the URL the
# vendor called (webhook.public_url behind a proxy), body and timestamp.
HS=$FIX/hubspot_webhook_contact_creation_v1sig_testvector.body.json
expect_eq "a HubSpot v1 signature (the docs' vector) is accepted" \
  "$(post -X POST "$URL/crm" -H 'Content-Type: application/json' \
      -H 'X-HubSpot-Signature-Version: v1' \
      -H 'X-HubSpot-Signature: 232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de' \
      --data-binary @"$HS")" \
  '200 {"accepted":1}'
ts=$(( $(date +%s) * 1000 ))
v3() { # v3 METHOD URL BODYFILE TIMESTAMP
  { printf '%s%s' "$1" "$2"; cat "$3"; printf '%s' "$4"; } |
    openssl dgst -sha256 -hmac yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy -binary | base64
}
expect_eq "a HubSpot v3 signature over the public URL is accepted" \
  "$(post -X POST "$URL/crm?portal=62515" -H 'Content-Type: application/json' \
      -H "X-HubSpot-Request-Timestamp: $ts" \
      -H "X-HubSpot-Signature-v3: $(v3 POST 'https://hooks.example.com/ingest/crm?portal=62515' "$HS" "$ts")" \
      --data-binary @"$HS")" \
  '200 {"accepted":1}'
old=$(( ts - 600000 ))
status=$(post -X POST "$URL/crm" -H 'Content-Type: application/json' \
      -H "X-HubSpot-Request-Timestamp: $old" \
      -H "X-HubSpot-Signature-v3: $(v3 POST 'https://hooks.example.com/ingest/crm' "$HS" "$old")" \
      --data-binary @"$HS")
case "$status" in
  "401 {\"error\":{\"code\":\"bad_signature\",\"message\":\"timestamp $old is older than 300 s\"}}") ok "a stale HubSpot v3 timestamp is 401" ;;
  *) fail "a stale HubSpot v3 timestamp: got $status" ;;
esac
# webhook.min_version: v3 refuses the same valid v1 request (it has no
# timestamp: a replay), and takes v3.
expect_eq "min_version v3 refuses a valid v1 signature" \
  "$(post -X POST "$URL/crm3" -H 'Content-Type: application/json' \
      -H 'X-HubSpot-Signature-Version: v1' \
      -H 'X-HubSpot-Signature: 232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de' \
      --data-binary @"$HS")" \
  '401 {"error":{"code":"bad_signature","message":"no X-HubSpot-Signature-v3 header, and min_version v3 refuses the request'"'"'s v1 signature"}}'
expect_eq "min_version v3 takes v3" \
  "$(post -X POST "$URL/crm3" -H 'Content-Type: application/json' \
      -H "X-HubSpot-Request-Timestamp: $ts" \
      -H "X-HubSpot-Signature-v3: $(v3 POST 'https://hooks.example.com/ingest/crm3' "$HS" "$ts")" \
      --data-binary @"$HS")" \
  '200 {"accepted":1}'

# ERPNext: Frappe's own header and base64 digest, with no more set than
# the secret.
DN=$FIX/erpnext_delivery_note_webhook_docs_shape.json
frappe_sig=$(openssl dgst -sha256 -hmac frappe-secret -binary "$DN" | base64)
expect_eq "an ERPNext webhook signed as Frappe signs is accepted" \
  "$(post -X POST "$URL/frappe" -H 'Content-Type: application/json' \
      -H "X-Frappe-Webhook-Signature: $frappe_sig" --data-binary @"$DN")" \
  '200 {"accepted":1}'
expect_eq "an ERPNext webhook without Frappe's header is 401" \
  "$(post -X POST "$URL/frappe" -H 'Content-Type: application/json' \
      -H "X-Signature: $(openssl dgst -sha256 -hmac frappe-secret -r "$DN" | cut -d' ' -f1)" \
      --data-binary @"$DN")" \
  '401 {"error":{"code":"bad_signature","message":"missing X-Frappe-Webhook-Signature header"}}'

# Salesforce signs nothing: with a secret, its relay signs as hub360's
# own hmac does (X-Signature, hex), and an unsigned request is refused.
CDC=$FIX/salesforce_cdc_lead_update_pubsub_docs_shape.json
expect_eq "an unsigned request to a Salesforce source with a secret is 401" \
  "$(post -X POST "$URL/sf" -H 'Content-Type: application/json' --data-binary @"$CDC")" \
  '401 {"error":{"code":"bad_signature","message":"missing X-Signature header"}}'
status=$(post -X POST "$URL/sf" -H 'Content-Type: application/json' \
      -H "X-Signature: $(openssl dgst -sha256 -hmac relay-secret -r "$CDC" | cut -d' ' -f1)" \
      --data-binary @"$CDC")
case "$status" in
  '200 {"accepted":'*) ok "a relayed Salesforce event signed with the secret is accepted" ;;
  *) fail "a relayed Salesforce event: got $status" ;;
esac

# WeChat: the signed query, and the answer it wants ("success", not
# JSON), for a push that maps and for a safe-mode push kept as a dead
# letter.
wechat() { # wechat FILE: POSTs it as WeChat does; prints "STATUS BODY"
  local ts=1700000000 nonce=n0nce sig
  sig=$(printf '%s\n' oatoken "$ts" "$nonce" | sort | tr -d '\n' | sha1sum | cut -d' ' -f1)
  post -X POST "$URL/oa?signature=$sig&timestamp=$ts&nonce=$nonce&openid=x" \
    -H 'Content-Type: text/xml' --data-binary @"$1"
}
expect_eq "a WeChat push is answered success" \
  "$(wechat "$FIX/wechat_oa_text_message_docs.xml")" '200 success'
expect_eq "a safe-mode WeChat push too, once it is a dead letter" \
  "$(wechat "$FIX/wechat_oa_encrypted_message_docs_shape.xml")" '200 success'
"$HUB360" tail -c "$WORK/hub360.yaml" deadletter --from-beginning --end --timeout 30s >"$WORK/dead.ndjson"
expect_eq "the safe-mode push is on the dead-letter topic, with the reason" \
  "$(jq -r 'select(.key == "oa") | [.headers.error[0:60], (.value | test("<Encrypt>"))] | @tsv' "$WORK/dead.ndjson")" \
  "$(printf 'wechat.jq: events: an encrypted (safe mode) push: hub360 doe\ttrue')"

# A re-delivery is accepted again and carries the same event id.
expect_eq "a re-delivered webhook is accepted" \
  "$(shop -H "X-Shopify-Hmac-Sha256: $SHOPIFY_SIG" --data-binary @"$FIX/shopify_customer_rest_fixture.json")" \
  '200 {"accepted":1}'
"$HUB360" tail -c "$WORK/hub360.yaml" erp --from-beginning --end --timeout 30s >"$WORK/erp.ndjson"
expect_eq "both deliveries are on Kafka, with one event id" \
  "$(jq -r 'select(.source.system == "shop") | .event_id' "$WORK/erp.ndjson" | sort | uniq -c | awk '{print $1}')" "2"
expect_eq "the event is the mapped customer" \
  "$(jq -c 'select(.source.system == "shop") | [.type, .source.system, .source.entity_id]' "$WORK/erp.ndjson" | sort -u)" \
  '["erp.customer.upserted","shop","207119551"]'

# The requests are counted for Prometheus, by source and status.
curl -sS "http://$ADDR/metrics" >"$WORK/metrics"
expect_eq "/metrics counts webhook requests by source and status" \
  "$(grep -E '^hub360_webhook_requests_total\{source="shop",status="(200|401|400)"\}' "$WORK/metrics")" \
'hub360_webhook_requests_total{source="shop",status="200"} 4
hub360_webhook_requests_total{source="shop",status="400"} 1
hub360_webhook_requests_total{source="shop",status="401"} 2'
expect_eq "/metrics counts the dead letters" \
  "$(grep '^hub360_adapter_dead_letters_total{source="shop",adapter="webhook"}' "$WORK/metrics")" \
  'hub360_adapter_dead_letters_total{source="shop",adapter="webhook"} 1'
expect_eq "/metrics counts the events Kafka acknowledged" \
  "$(grep '^hub360_adapter_events_total{source="shop",adapter="webhook"}' "$WORK/metrics")" \
  'hub360_adapter_events_total{source="shop",adapter="webhook"} 3'
grep -q '^hub360_http_request_seconds_count{route="/ingest/"} ' "$WORK/metrics" ||
  fail "/metrics has no latency histogram for /ingest/"
grep -q '^hub360_http_requests_total{route="none",method="POST",status="413"} 1$' "$WORK/metrics" ||
  fail "/metrics does not count the 413 answered before any route"
ok "/metrics has the HTTP latency histogram and the early 413"

# Kafka gone: the vendor is told to retry.
if [ -z "${HUB360_TEST_KAFKA:-}" ]; then
  kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
  status=$(post -D "$WORK/headers" -X POST "$URL/shop" -H 'Content-Type: application/json' \
    -H 'X-Shopify-Topic: customers/create' -H "X-Shopify-Hmac-Sha256: $SHOPIFY_SIG" \
    --data-binary @"$FIX/shopify_customer_rest_fixture.json")
  case "$status" in
    '503 {"error":{"code":"kafka_unavailable","message":"the events were not acknowledged by Kafka: '*) ok "no broker: 503" ;;
    *) fail "no broker: got $status" ;;
  esac
  tr -d '\r' <"$WORK/headers" | grep -qix 'Retry-After: 5' || fail "503 without Retry-After: 5"
  ok "503 carries Retry-After"
fi

# WeChat gives up on an answer after 5 s and retries: its sources wait
# for Kafka 4 s at most, whatever webhook.ack_timeout says (oa has the
# default 10 s), and answer 503 so that WeChat's retry brings it again.
if [ -z "${HUB360_TEST_KAFKA:-}" ]; then
  s=$(date +%s%N)
  status=$(wechat "$FIX/wechat_oa_text_message_docs.xml")
  waited=$(( ($(date +%s%N) - s) / 1000000 ))
  case "$status" in
    '503 {"error":{"code":"kafka_unavailable",'*) ;;
    *) fail "WeChat, no broker: got $status" ;;
  esac
  [ "$waited" -ge 3900 ] && [ "$waited" -lt 8000 ] ||
    fail "WeChat waited $waited ms for Kafka: not its 4 s cap (ack_timeout is 10 s)"
  ok "WeChat, no broker: 503 after the 4 s cap ($waited ms), not the 10 s ack_timeout"
fi

# SIGTERM while a request waits for Kafka: it is answered, then the
# process exits 0 (still no broker, so the answer is a whole 503).
if [ -z "${HUB360_TEST_KAFKA:-}" ]; then
  curl -sS -X POST "$URL/shop" -H 'Content-Type: application/json' \
    -H 'X-Shopify-Topic: customers/create' -H "X-Shopify-Hmac-Sha256: $SHOPIFY_SIG" \
    --data-binary @"$FIX/shopify_customer_rest_fixture.json" >"$WORK/late" 2>&1 &
  LATE=$!
  in_flight() { # the metrics request itself is one
    curl -sS -o "$WORK/inflight" "http://$ADDR/metrics" &&
      grep -Eq '^hub360_http_requests_in_flight [2-9]' "$WORK/inflight"
  }
  wait_for 10 in_flight
fi
kill -TERM "$ADAPTERS"
wait "$ADAPTERS" || fail "hub360 adapters exited $? on SIGTERM"
ok "SIGTERM stops hub360 adapters cleanly"
if [ -z "${HUB360_TEST_KAFKA:-}" ]; then
  wait "$LATE" || true
  case "$(cat "$WORK/late")" in
    '{"error":{"code":"kafka_unavailable",'*) ok "a request in flight at SIGTERM is answered before the exit" ;;
    *) fail "a request in flight at SIGTERM: got $(cat "$WORK/late")" ;;
  esac
fi
