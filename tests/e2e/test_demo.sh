#!/usr/bin/env bash
# hub360 up --demo, started as the README says, on a fresh data dir: the
# simulated HubSpot, Shopify, Odoo, WeChat and mention-feed systems go
# through the real adapters, and within a bounded time the API serves the
# customer the start message names, merged across CRM, ERP and SCRM (its
# members come from systems of all three kinds; it has aliases). A restart
# on the same data dir keeps the views and goes on adding to them.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

DATA="$WORK/data"

# start_demo OUT: runs `hub360 up --demo` in the background; sets UP (its
# pid), ADDR (the API's HOST:PORT) and EMAIL (the customer it shows).
start_demo() {
  "$HUB360" up --demo --demo-rate 100 --data "$DATA" --listen 127.0.0.1:0 \
    >"$1.out" 2>"$1.err" &
  UP=$!
  PIDS+=("$UP")
  wait_for_or_exit 30 "$UP" grep -q "^  curl -s 'http://.*/v1/customers?email=" "$1.out" ||
    fail "up --demo exited: $(cat "$1.err")"
  ADDR=$(sed -n 's|^api: http://\([^/]*\)/.*|\1|p' "$1.out")
  EMAIL=$(sed -n "s|^  curl -s 'http://.*/v1/customers?email=\([^']*\)'|\1|p" "$1.out")
  [ -n "$ADDR" ] && [ -n "$EMAIL" ] || fail "no address or e-mail in: $(cat "$1.out")"
}

# merged: the customer of $EMAIL has members of crm, erp and scrm systems
# and at least one alias.
merged() {
  curl -sf "http://$ADDR/v1/customers?email=$EMAIL" >"$WORK/view" &&
    jq -e '([.members[].kind] as $k | ["crm", "erp", "scrm"] - $k) == []
           and (.aliases | length) > 0' "$WORK/view" >/dev/null
}

customers() { "$HUB360" export --data "$DATA" | wc -l; }

# Usage: the demo's options go with --demo; its source names are its own.
st=0; "$HUB360" up --demo-rate 5 --data "$DATA" 2>usage.err || st=$?
expect_eq "up --demo-rate without --demo is a usage error" "$st $(cat usage.err)" \
  "2 hub360 up: --demo-rate and --demo-people go with --demo
Try 'hub360 up --help'."
cat >clash.yaml <<YAML
data_dir: $WORK/clash
sources:
  - {name: shopify, system: erp, preset: shopify, webhook: {secret: s}}
YAML
st=0; "$HUB360" up --demo -c clash.yaml --listen 127.0.0.1:0 >/dev/null 2>clash.err || st=$?
[ "$st" = 1 ] && grep -q 'adds sources hubspot, shopify, odoo, wechat and mention: .*shopify' clash.err ||
  fail "a configured source named shopify: exit $st, $(cat clash.err)"
ok "up --demo refuses a configuration whose sources take its names ($(cat clash.err))"

start_demo run1
wait_for 60 merged
ok "up --demo: $EMAIL is one customer of CRM, ERP and SCRM systems, with aliases ($(jq -c '[.members[].system] | unique' view))"
jq -e '.identities | map(.kind) | (index("email") and index("phone") and index("wechat_openid") and index("crm_contact") and index("erp_customer"))' view >/dev/null ||
  fail "identities of every kind expected: $(jq -c .identities view)"
ok "up --demo: the view holds the e-mail, phone, HubSpot contact, shop customer and WeChat openid"
status_line() { grep -q '^demo: events/s crm [0-9.]* erp [0-9.]* scrm [0-9.]* | customers [0-9?]* merges [0-9?]* | lag ' run1.err; }
wait_for 10 status_line
ok "up --demo: a status line of events per second, customers, merges and lag"

# The fake vendor APIs page as the presets expect: keyset pages (Odoo's
# write_date and id; the mention feed's cursor) follow one another in
# (time, id) order, with nothing repeated, while records keep coming.
VENDOR=$(sed -n 's|.* at http://\(127\.0\.0\.1:[0-9]*\), about .*|\1|p' run1.out)
[ -n "$VENDOR" ] || fail "no fake vendor address in: $(cat run1.out)"
odoo_page() {
  curl -sf -X POST -H 'Content-Type: application/json' -d "$1" \
    "http://$VENDOR/json/2/res.partner/search_read"
}
page=$(odoo_page '{"domain": [], "fields": ["write_date"], "limit": 5}')
keys=$(jq -c '[.[] | [.write_date, .id]]' <<<"$page")
for _ in 1 2 3; do
  last=$(jq -c '.[-1]' <<<"$page")
  [ "$last" != null ] || break
  page=$(odoo_page "$(jq -c '{domain: ["|", ["write_date", ">", .write_date], "&",
                                       ["write_date", "=", .write_date], ["id", ">", .id]],
                              limit: 5}' <<<"$last")")
  keys=$(jq -c --argjson p "$page" '. + [$p[] | [.write_date, .id]]' <<<"$keys")
done
jq -e 'length > 5 and . == (sort | unique)' <<<"$keys" >/dev/null ||
  fail "Odoo's keyset pages are not in (write_date, id) order: $keys"
ok "fake Odoo: keyset pages in (write_date, id) order ($(jq length <<<"$keys") records)"
page=$(curl -sf "http://$VENDOR/mentions?sort=updated_at&limit=4")
# RFC 3339 with or without milliseconds -> epoch milliseconds
MS='def ms: sub("Z$"; "") | split(".") | (.[0] + "Z" | fromdateiso8601) * 1000 + ((.[1] // "0") | tonumber);'
ids=$(jq -c "$MS"' [.mentions[] | [(.updated_at | ms), (.id | tonumber)]]' <<<"$page")
for _ in 1 2 3; do
  next=$(jq -r '.next // empty' <<<"$page")
  [ -n "$next" ] || break
  page=$(curl -sf "http://$VENDOR/mentions?limit=4&cursor=$next")
  ids=$(jq -c --argjson p "$page" "$MS"' . + [$p.mentions[] | [(.updated_at | ms), (.id | tonumber)]]' <<<"$ids")
done
jq -e 'length > 4 and . == (sort | unique)' <<<"$ids" >/dev/null ||
  fail "the mention feed's pages are not in (updated_at, id) order: $ids"
ok "fake mention feed: cursor pages in (updated_at, id) order ($(jq length <<<"$ids") mentions)"
hs=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"filterGroups": [], "limit": 3}' "http://$VENDOR/crm/v3/objects/contacts/search")
jq -e "$MS"' (.results | length) == 3 and .paging.next.after == "3"
            and ([.results[].updatedAt | ms] | . == sort)' <<<"$hs" >/dev/null ||
  fail "fake HubSpot search: $hs"
ok "fake HubSpot: search pages by offset, oldest first"

kill -TERM "$UP"
wait "$UP" || fail "up --demo did not exit 0 on SIGTERM: $(tail -5 run1.err)"
ok "up --demo stops cleanly on SIGTERM"
before_timeline=$("$HUB360" get --data "$DATA" --timeline --limit 1000 "email:$EMAIL" | jq '.items | length')
before_customers=$("$HUB360" export --data "$DATA" | wc -l)
# the oldest thing the first run saw of them: the demo's events carry the
# wall clock, so a second run cannot make it again, only keep it
oldest=$("$HUB360" get --data "$DATA" --timeline --limit 1000 "email:$EMAIL" | jq -c '.items[-1] | [.at, .event_id]')

# A restart: a new embedded broker (it keeps nothing), the same views.
start_demo run2
wait_for 10 merged
[ "$(customers)" -ge "$before_customers" ] || fail "customers went from $before_customers to $(customers)"
curl -sf "http://$ADDR/v1/customers/email:$EMAIL/timeline?limit=1000" |
  jq -e --argjson o "$oldest" 'any(.items[]; [.at, .event_id] == $o)' >/dev/null ||
  fail "the restarted demo lost $EMAIL's first timeline item $oldest"
ok "restart keeps the views ($before_customers customers, $EMAIL merged, its first item $oldest kept)"
timeline() { curl -sf "http://$ADDR/v1/customers/email:$EMAIL/timeline?limit=1000" | jq '.items | length'; }
grows() { [ "$(timeline)" -gt "$before_timeline" ]; }
wait_for 60 grows
ok "restart goes on: $EMAIL's timeline grows past $before_timeline"
kill -TERM "$UP"
wait "$UP" || fail "the restarted up --demo did not exit 0: $(tail -5 run2.err)"
ok "the restarted demo stops cleanly"
