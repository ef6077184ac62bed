# hub360 preset: Shopify (ERP: shop).
#   webhook: the Admin API webhooks, selected by X-Shopify-Topic:
#            orders/create, orders/updated, orders/fulfilled, orders/paid,
#            orders/cancelled, fulfillments/create, fulfillments/update,
#            refunds/create, customers/create, customers/update;
#   import:  REST resources ({"order": ...}, {"customer": ...} or bare),
#            the kind read from the topic header if given, else the shape.
# See tests/adapters/presets/shopify/NOTES.md.

def sh_str: if . == null then null else tostring end;

# Order-preserving unique. (Not with index([$i]): libjq 1.6 leaks memory
# on every call of index/indices with an array argument.)
def sh_uniq: reduce .[] as $i ([]; if any(.[]; . == $i) then . else . + [$i] end);

# A resource's id as text. Shopify ids are 64-bit and jq 1.6 reads JSON
# numbers as doubles (exact up to 2^53 only), so the id in
# admin_graphql_api_id ("gid://shopify/Order/820982911946154508") is
# preferred where the body has it.
def sh_id: if (.admin_graphql_api_id | type) == "string"
           then .admin_graphql_api_id | split("/") | last
           elif .id == null then null else .id | tostring end;

def sh_customer_ident: source_ident("erp_customer"; sh_id);

# One order line: a SKU (Shopify lets it be blank: then the variant id),
# the line's unit price net of its discount allocations where that is a
# whole number of minor units (else none).
def sh_line($cur):
  (.price | minor($cur)) as $price
  | ([.discount_allocations[]?.amount | minor($cur)] | add // 0) as $disc
  | (.quantity // 0) as $q
  | { sku: (if (.sku // "") != "" then .sku
            elif .variant_id != null then "variant:\(.variant_id)"
            else "line:\(.id)" end),
      name: (.name // .title),
      quantity: $q,
      unit_price: (if $price == null then null
                   elif $disc == 0 then $price
                   elif $q > 0 and (($price * $q - $disc) % $q) == 0 then ($price * $q - $disc) / $q
                   else null end) } | compact;

# The buyer of an order (or of the order a fulfilment or refund belongs
# to): e-mail, phones, the Shopify customer. Not the shipping address,
# which may be someone else's.
def sh_order_identities:
  [ident("email"; .email), ident("email"; .contact_email), ident("email"; .customer.email),
   ident("phone"; .phone), ident("phone"; .customer.phone),
   ident("phone"; .billing_address.phone), ident("phone"; .customer.default_address.phone),
   (.customer // {} | sh_customer_ident)] | sh_uniq;

def sh_version: .updated_at // .created_at;

def sh_order_placed:
  .currency as $cur
  | { type: "erp.order.placed",
      id: "order/\(sh_id)/\(sh_version)",
      occurred_at: (sh_version | rfc3339),
      source: {entity_type: "order", entity_id: sh_id},
      identities: sh_order_identities,
      payload: ({ order_number: (.name // (.order_number | sh_str)),
                  channel: (.source_name | open_value),
                  lines: [.line_items[]? | sh_line($cur)],
                  total: (.total_price | minor($cur)),
                  tax: (.total_tax | minor($cur)),
                  shipping: (if .total_shipping_price_set.shop_money.amount != null
                             then (.total_shipping_price_set.shop_money.amount | minor($cur))
                             else ([.shipping_lines[]?.price | minor($cur)] | add // null) end),
                  discount: (.total_discounts | minor($cur)),
                  currency: $cur,
                  warehouse: (.location_id | sh_str) } | compact) };

# Money refunded by a refund's successful refund transactions.
def sh_refunded($cur):
  [.transactions[]? | select(.kind == "refund" and (.status == "success" or .status == null))
   | .amount | minor($cur)] | if length == 0 then null else add end;

def sh_order_cancelled:
  .currency as $cur
  | ([.refunds[]? | sh_refunded($cur)] | add) as $refunded
  | select(.cancelled_at != null)
  | { type: "erp.order.cancelled",
      id: "order/\(sh_id)/cancelled/\(.cancelled_at)",
      occurred_at: (.cancelled_at | rfc3339),
      source: {entity_type: "order", entity_id: sh_id},
      identities: sh_order_identities,
      payload: ({ reason: (.cancel_reason | open_value),
                  refund_amount: $refunded,
                  currency: (if $refunded != null then $cur else null end) } | compact) };

# A fulfilment: shipped once it succeeded, delivered once the carrier says
# so. $order: the order it belongs to, when the body is the order.
def sh_fulfillment($order):
  select(.status == "success")
  | ($order // {}) as $o
  | { id: "fulfillment/\(sh_id)/\(sh_version)",
      source: {entity_type: "fulfillment", entity_id: sh_id},
      identities: (if $order != null then ($o | sh_order_identities)
                   else [ident("email"; .email)] end) } as $head
  | ($head + { type: "erp.order.shipped",
               occurred_at: (.created_at | rfc3339),
               payload: ({ order_id: (.order_id | tostring),
                           lines: [.line_items[]? | sh_line($o.currency // "XXX")
                                   | del(.unit_price)],
                           warehouse: (.location_id | sh_str),
                           carrier: (.tracking_company | open_value),
                           tracking_number: (.tracking_number // .tracking_numbers[0]?),
                           tracking_url: (.tracking_url // .tracking_urls[0]?) } | compact) }),
    (select(.shipment_status == "delivered")
     | $head + { type: "erp.order.delivered", id: ($head.id + "/delivered"),
                 occurred_at: (sh_version | rfc3339),
                 payload: ({ order_id: (.order_id | tostring),
                             carrier: (.tracking_company | open_value),
                             tracking_number: (.tracking_number // .tracking_numbers[0]?) }
                           | compact) });

# A refunded line: the line item's SKU and name, the refunded quantity, and
# the unit price the refund's subtotal (net of discounts, before tax) gives.
def sh_refund_line($cur):
  (.quantity // 0) as $q
  | (if $cur == null then null else (.subtotal | minor($cur)) end) as $sub
  | (.line_item | sh_line("XXX")) + {quantity: $q}
  | .unit_price = (if $sub != null and $q > 0 and ($sub % $q) == 0 then $sub / $q else null end)
  | compact;

def sh_refund:
  ([.transactions[]?.currency | strings] | first // null) as $cur
  | select((.refund_line_items // []) | length > 0)
  | { type: "erp.order.returned",
      id: "refund/\(sh_id)/\(.processed_at // .created_at)",
      occurred_at: ((.processed_at // .created_at) | rfc3339),
      source: {entity_type: "refund", entity_id: sh_id},
      identities: [],
      payload: ({ order_id: (.order_id | tostring),
                  lines: [.refund_line_items[] | sh_refund_line($cur)],
                  refund_amount: sh_refunded($cur // "XXX"),
                  currency: $cur } | compact) };

def sh_customer:
  (.default_address // {}) as $a
  | { type: "erp.customer.upserted",
      id: "customer/\(sh_id)/\(sh_version)",
      occurred_at: (sh_version | rfc3339),
      source: {entity_type: "customer", entity_id: sh_id},
      identities: ([ident("email"; .email), ident("phone"; .phone), ident("phone"; $a.phone),
                    sh_customer_ident] | sh_uniq),
      payload: ({ first_name: .first_name, last_name: .last_name,
                  company: $a.company,
                  default_currency: .currency,
                  accepts_marketing: (if .email_marketing_consent.state != null
                                      then .email_marketing_consent.state == "subscribed"
                                      else .accepts_marketing end),
                  locale: (.locale | bcp47),
                  region: iso_region($a.country_code; $a.province_code) } | compact) };

# The topic: the header, else (a file import) read from the record's shape.
def sh_topic:
  ($meta.headers["x-shopify-topic"] // null) as $t
  | if $t != null then $t
    elif has("refund_line_items") then "refunds/create"
    elif has("line_items") and has("financial_status") then "orders/updated"
    elif has("tracking_number") or has("tracking_numbers") then "fulfillments/update"
    elif has("addresses") or has("default_address") or has("first_name") then "customers/update"
    else null end;

# customers/redact, a mandatory compliance webhook: a shop owner asked
# to erase a customer. The customer is forgotten in every view; the id
# derives from the shop and the customer, so Shopify's retries are one.
def sh_redact:
  (.customer // {}) as $c
  | (source_ident("erp_customer"; $c.id) // ident("email"; $c.email)
     // ident("phone"; $c.phone) // null) as $who
  | { type: "customer.forget",
      id: "customers-redact/\(.shop_id)/\($c.id // $c.email // $c.phone)",
      occurred_at: $meta.received_at,
      source: {entity_type: "customer", entity_id: (($c.id // $c.email // "") | tostring)},
      identities: [],
      payload: {identity: $who, reason: "gdpr_erasure",
                requested_by: ("shopify:" + (.shop_domain // ($source.name)))} };

def sh_event:
  (if (.order | type) == "object" then .order
   elif (.customer | type) == "object" and (has("line_items") | not) then .customer
   elif (.fulfillment | type) == "object" then .fulfillment
   elif (.refund | type) == "object" then .refund
   else . end) as $r
  | ($r | sh_topic) as $topic
  | $r
  | select(.id != null)
  | if $topic == "orders/create" or $topic == "orders/updated" or $topic == "orders/paid"
       or $topic == "orders/edited" then
      sh_order_placed, sh_order_cancelled
    elif $topic == "orders/fulfilled" or $topic == "orders/partially_fulfilled" then
      sh_order_placed, (. as $o | .fulfillments[]? | sh_fulfillment($o))
    elif $topic == "orders/cancelled" then sh_order_cancelled
    elif $topic == "fulfillments/create" or $topic == "fulfillments/update" then
      sh_fulfillment(null)
    elif $topic == "refunds/create" then sh_refund
    elif $topic == "customers/create" or $topic == "customers/update" then sh_customer
    else empty end;

def events:
  objects
  | if ($meta.headers["x-shopify-topic"] // null) == "customers/redact"
    then sh_redact else sh_event end;
