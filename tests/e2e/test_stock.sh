#!/usr/bin/env bash
# End to end: the product availability projection as a user runs it.
# The scripted scenario (tests/fixtures/stock) goes in with `hub360
# publish`; `project --once`, `get sku:CODE`, `rebuild`, the API's
# /v1/products routes and the projector's oversold counter are checked
# for exact outcomes. Generated stock events in another order across another
# number of partitions give identical product views; a projector killed
# with -9 again and again ends with the same views as one that ran
# through. Runs on the embedded broker, or on a real Kafka with
# HUB360_TEST_KAFKA. About 45 s.
source "$(dirname "$0")/lib.sh"
use_brokers
cd "$WORK"
FIX="$HUB360_SOURCE_DIR/tests/fixtures/stock"

prefix=$(sed -n 's/^  topic_prefix: "\(.*\)"$/\1/p' hub360.yaml)

# --- the scenario: exact views -------------------------------------------
config s "$prefix" 3
"$HUB360" publish -c s.yaml "$FIX/events.ndjson" >/dev/null
"$HUB360" project -c s.yaml --once 2>s.err || { cat s.err >&2; fail "project --once"; }
expect_eq "project --once: the stock events are applied once, SO-2 twice is a duplicate" \
  "$(tail -n1 s.err | sed -E 's/ in [0-9.]+ s//; s/;.*//')" \
  "23 events: 7 applied, 1 duplicates, 15 ignored, 0 dead-lettered"
for sku in TEA-LJ-250G CUP-GLASS-300 KETTLE-1L; do
  "$HUB360" get -c s.yaml "sku:$sku" >"$sku.json" || fail "get sku:$sku"
  expect_file_eq "get sku:$sku prints the figures worked out by hand" "$sku.json" "$FIX/$sku.json"
done
# export --products: every product view in SKU order; CSV a row a warehouse
"$HUB360" export -c s.yaml --products >products.ndjson
cat "$FIX/CUP-GLASS-300.json" "$FIX/KETTLE-1L.json" "$FIX/TEA-LJ-250G.json" >expected.ndjson
expect_file_eq "export --products: the views of get sku:, in SKU order" products.ndjson expected.ndjson
"$HUB360" export -c s.yaml --products --format csv | tr -d '\r' >products.csv
cat >expected.csv <<'CSV'
sku,warehouse,tracked,on_hand,reserved,available,on_order_purchase,on_order_production,returned,oversold_quantity,oversold_orders,last_movement_at
CUP-GLASS-300,SH-01,true,19,0,19,30,0,1,0,,2026-04-01T12:00:01Z
KETTLE-1L,SH-01,false,0,0,0,0,15,0,0,,
TEA-LJ-250G,BJ-02,true,17,0,17,0,0,0,0,,2026-04-01T14:00:01Z
TEA-LJ-250G,SH-01,true,26,38,-12,30,0,0,12,erpnext/SO-4,2026-04-01T13:00:01Z
CSV
expect_file_eq "export --products --format csv: a row per SKU and warehouse" products.csv expected.csv

# rebuild replays the topics into a new generation: the same products
target=$(readlink s/customer360)
"$HUB360" rebuild -c s.yaml --no-progress 2>rebuild.err || { cat rebuild.err >&2; fail "rebuild"; }
[ "$(readlink s/customer360)" != "$target" ] || fail "rebuild did not swap the store"
for sku in TEA-LJ-250G CUP-GLASS-300 KETTLE-1L; do
  "$HUB360" get -c s.yaml "sku:$sku" >"$sku.rebuilt.json" || fail "get sku:$sku after rebuild"
  expect_file_eq "after rebuild, get sku:$sku is the same" "$sku.rebuilt.json" "$FIX/$sku.json"
done
set +e
"$HUB360" get -c s.yaml sku:NOPE >/dev/null 2>nope.err
code=$?
"$HUB360" get -c s.yaml --timeline sku:TEA-LJ-250G >/dev/null 2>tl.err
tlcode=$?
set -e
expect_eq "get sku: of an unknown SKU exits 1 and says so" "$code $(cat nope.err)" \
  "1 hub360 get: no product NOPE"
expect_eq "get --timeline sku: is a usage error" "$tlcode $(head -n1 tl.err)" \
  "2 hub360 get: --timeline is a customer's; sku:TEA-LJ-250G is a product"

# --- the API ---------------------------------------------------------------
get() { # get PATH: "STATUS BODY"
  curl -sS -o "$WORK/body" -w '%{http_code}' "$API$1" >"$WORK/status"
  echo "$(cat "$WORK/status") $(cat "$WORK/body")"
}
serve s.yaml
expect_eq "GET /v1/products/{sku} is what get sku: prints" \
  "$(get /v1/products/TEA-LJ-250G)" "200 $(cat "$FIX/TEA-LJ-250G.json")"
expect_eq "GET /v1/products/{sku} of an unknown SKU: 404 in the API's error shape" \
  "$(get /v1/products/NOPE)" \
  '404 {"error":{"code":"not_found","message":"no product NOPE"}}'
expect_eq "the low-stock list below 10: TEA-LJ-250G (5 available), not the untracked kettle" \
  "$(get '/v1/products?available_below=10')" \
  "200 {\"products\":[$(cat "$FIX/TEA-LJ-250G.json")],\"next_cursor\":null}"
expect_eq "the low-stock list below 20, one a page: first page" \
  "$(get '/v1/products?available_below=20&limit=1')" \
  "200 {\"products\":[$(cat "$FIX/TEA-LJ-250G.json")],\"next_cursor\":\"5:TEA-LJ-250G\"}"
expect_eq "the low-stock list below 20, one a page: second and last page" \
  "$(get '/v1/products?available_below=20&limit=1&cursor=5:TEA-LJ-250G')" \
  "200 {\"products\":[$(cat "$FIX/CUP-GLASS-300.json")],\"next_cursor\":null}"
expect_eq "available_below is required" "$(get /v1/products)" \
  '400 {"error":{"code":"bad_parameter","message":"available_below: expected an integer, got nothing"}}'
expect_eq "a cursor the API did not give" \
  "$(get '/v1/products?available_below=20&cursor=zz')" \
  '400 {"error":{"code":"bad_parameter","message":"cursor: not a cursor this API gave"}}'
kill -TERM "$SERVE"; wait "$SERVE" 2>/dev/null || true

# --- the oversold counter on the projector's /metrics ----------------------
# A fresh store of the same topics, projected by a running projector: SO-4
# oversells SH-01 at the end; SO-2 did too when a batch held it without
# the shipment of SO-1, so the counter is 1 or 2 by how batches fell.
config m "$prefix" 3
sed -i 's/level: warn/level: info/' m.yaml # for the "metrics at" line
"$HUB360" project -c m.yaml --listen 127.0.0.1:0 >/dev/null 2>m.err &
PROJECT=$!
PIDS+=($PROJECT)
wait_for 30 grep -q 'metrics at http://' m.err
PAPI=$(sed -n 's|.*metrics at \(http://[^/]*\)/metrics.*|\1|p' m.err | head -n1)
flagged() { "$HUB360" get -c m.yaml sku:TEA-LJ-250G 2>/dev/null | cmp -s - "$FIX/TEA-LJ-250G.json"; }
wait_for 60 flagged
n=$(curl -sS "$PAPI/metrics" | sed -n 's/^hub360_stock_oversold_orders_total //p')
case "$n" in
  1|2) ok "hub360_stock_oversold_orders_total counts the oversold orders ($n)" ;;
  *) fail "hub360_stock_oversold_orders_total is '$n', expected 1 or 2" ;;
esac
kill -TERM "$PROJECT"; wait "$PROJECT" || fail "project did not stop cleanly on SIGTERM"

# --- generated events: order, partitions, kill -9 ---------------------------
python3 - >gen.ndjson <<'PY'
import json, random
r = random.Random(11)
skus = ["SKU-%d" % i for i in range(6)]
whs = ["W0", "W1", "W2"]
n = [0]
def ev(typ, etype, eid, payload):
    n[0] += 1
    s = r.randrange(86400 * 1000)
    at = "2026-04-01T%02d:%02d:%02d.%03dZ" % (s // 3600000, s // 60000 % 60, s // 1000 % 60, s % 1000)
    print(json.dumps({"event_id": "00000000-0000-4000-9000-%012d" % n[0], "type": typ,
                      "occurred_at": at, "source": {"system": "erp", "kind": "erp",
                      "entity_type": etype, "entity_id": eid}, "identities": [],
                      "payload": payload}, separators=(",", ":")))
def lines(empty_ok):
    out = []
    for _ in range(r.randrange(0 if empty_ok else 1, 4)):
        l = {"sku": r.choice(skus), "quantity": r.randrange(1, 9)}
        if r.random() < 0.3: l["warehouse"] = r.choice(whs)
        out.append(l)
    return out
orders = pos = wos = 0
for i in range(6000):
    k = r.randrange(100)
    if k < 30:
        p = {"sku": r.choice(skus), "warehouse": r.choice(whs)}
        if r.random() < 0.3: p["on_hand"] = r.randrange(60)
        else: p["delta"] = r.randrange(-10, 11)
        ev("erp.stock.adjusted", "stock_ledger_entry", "SLE-%d" % i, p)
    elif k < 45 or not orders:
        o = r.randrange(orders) if orders and r.random() < 0.2 else orders
        orders += o == orders
        ev("erp.order.placed", "sales_order", "SO-%d" % o,
           {"lines": lines(False), "total": 100, "currency": "CNY", "warehouse": r.choice(whs)})
    elif k < 70:
        o = "SO-%d" % r.randrange(orders)
        t = r.choice(["shipped"] * 5 + ["cancelled"] * 2 + ["returned"] * 2 + ["delivered"])
        if t == "cancelled":
            ev("erp.order.cancelled", "sales_order", o, {"reason": "customer"})
        elif t == "delivered":
            ev("erp.order.delivered", "shipment", "D-%d" % r.randrange(i + 1), {"order_id": o})
        else:
            ev("erp.order." + t, "document", "D-%d" % r.randrange(i + 1), {"order_id": o, "lines": lines(True)})
    elif k < 85:
        if r.random() < 0.5 or not pos:
            ev("erp.purchase_order.placed", "purchase_order", "PO-%d" % pos,
               {"lines": lines(False), "warehouse": r.choice(whs)})
            pos += 1
        else:
            ev("erp.purchase_order.received", "purchase_receipt", "PR-%d" % i,
               {"purchase_order_id": "PO-%d" % r.randrange(pos), "lines": lines(True),
                "complete": r.random() < 0.25})
    else:
        done = wos and r.random() < 0.5
        w = r.randrange(wos) if done else wos
        wos += not done
        ev("erp.production_order.completed" if done else "erp.production_order.released",
           "work_order", "WO-%d" % w, {"sku": r.choice(skus), "quantity": r.randrange(1, 21),
                                       "warehouse": r.choice(whs)})
PY
shuf --random-source=<(yes) gen.ndjson >gen-shuffled.ndjson
config a "${prefix}a." 3
config b "${prefix}b." 5
config c "${prefix}c." 2 "projector:
  batch_events: 100"
"$HUB360" publish -c a.yaml gen.ndjson >/dev/null
"$HUB360" publish -c b.yaml gen-shuffled.ndjson >/dev/null
"$HUB360" publish -c c.yaml gen.ndjson >/dev/null
views() { # views CONFIG: every product view (or the error of a SKU never named)
  for sku in SKU-0 SKU-1 SKU-2 SKU-3 SKU-4 SKU-5; do
    "$HUB360" get -c "$1" "sku:$sku" 2>&1 || true
  done
}
"$HUB360" project -c a.yaml --once 2>a.err || { cat a.err >&2; fail "project a"; }
views a.yaml >a.views
grep -q '"orders":\[{"order":"erp/SO-' a.views || fail "the generated events oversell nothing: a weak test"
expect_eq "every generated SKU has a view" "$(grep -c '^{"sku"' a.views)" 6
"$HUB360" project -c b.yaml --once 2>b.err || { cat b.err >&2; fail "project b"; }
views b.yaml >b.views
expect_file_eq "shuffled across 5 partitions: identical product views" b.views a.views

# Killed mid-run five times (lib.sh): a run has committed a batch once
# one SKU's product view moved.
sku0() { "$HUB360" get -c "$1" sku:SKU-0 2>&1 || true; }
kill_mid_run c.yaml sku0
views c.yaml >c.views
expect_file_eq "killed $KILLS times with -9: product views equal an uninterrupted run" c.views a.views
