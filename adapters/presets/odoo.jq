# hub360 preset: Odoo (ERP), versions with the JSON-2 API (19+).
#   poll:   POST /json/2/<model>/search_read on write_date for res.partner,
#           sale.order, stock.picking and account.move;
#   import: records of those models (or a saved response), --resource <model>.
# See tests/adapters/presets/odoo/NOTES.md.

# Odoo writes false for an empty field.
def od: if . == false then null else . end;
# A many2one value [id, "display name"] -> its id as text, or its name.
def od_m2o_id: if type == "array" then (.[0] | tostring) else null end;
def od_m2o_name: if type == "array" then .[1] else null end;
# Odoo datetimes are UTC "YYYY-MM-DD HH:MM:SS".
def od_time: od | rfc3339;

def od_partner_ident: source_ident("erp_customer"; od_m2o_id);

def od_head($model):
  if (.write_date | od) != null then
    {id: "\($model)/\(.id)/\(.write_date)", occurred_at: (.write_date | od_time)}
  else
    # No version to name the fact by: no id (a UUIDv7 each time) and the
    # time hub360 received it.
    {occurred_at: $meta.received_at}
  end;

# A line's unit price net of its discount percentage, in whole minor
# units, or null where it is not whole (computed on integers, never floats).
def od_net_price($cur):
  (.price_unit | if . == null then null else tostring | minor($cur) end) as $p
  | (.discount // 0) as $d
  | if $p == null then null
    elif $d == 0 then $p
    elif ($d | floor) == $d and (($p * (100 - $d)) % 100) == 0 then $p * (100 - $d) / 100
    else null end;

# A product's SKU: its internal reference (default_code, which a
# many2one's display name shows as "[CODE] Name"), else "product:<id>".
def od_sku:
  if type == "object" then ((.default_code | od) // "product:\(.id)")
  elif type == "array" then
    ((.[1] // "" | capture("^\\[(?<c>[^\\]]+)\\]") | .c) // "product:\(.[0])")
  else "product:unknown" end;

# Order lines, where the record carries them as objects (web_search_read
# with a specification); search_read gives ids only, so no lines.
def od_lines($cur):
  [(.order_line // [])[] | objects | select((.display_type | od) == null)
   | { sku: (.product_id | od_sku),
       name: (.name | od),
       quantity: (.product_uom_qty // 0 | floor),
       unit_price: od_net_price($cur)
     } | compact];

def od_partner:
  od_head("res.partner")
  + { type: "erp.customer.upserted",
      source: {entity_type: "customer", entity_id: (.id | tostring)},
      identities: [ident("email"; .email | od), ident("phone"; .phone | od),
                   ident("phone"; .mobile | od),
                   source_ident("erp_customer"; .id)],
      payload: ({ name: (.name | od),
                  customer_type: (if .is_company == true then "company"
                                  elif .is_company == false then "individual" else null end),
                  company: (.parent_id | od_m2o_name),
                  locale: (.lang | od | bcp47),
                  region: iso_region(.country_code | od; null) } | compact) };

def od_sale_order:
  (.currency_id | od_m2o_name) as $cur
  | (.state | od) as $state
  | od_head("sale.order") as $head
  | { source: {entity_type: "order", entity_id: (.id | tostring)},
      identities: [.partner_id | od_partner_ident] } as $entity
  | if ($state == "sale" or $state == "done") and $cur != null then
      $head + $entity
      + { type: "erp.order.placed",
          payload: ({ order_number: (.name | od),
                      lines: od_lines($cur),
                      total: (.amount_total | tostring | minor($cur)),
                      tax: (.amount_tax | if . == null then null else tostring | minor($cur) end),
                      currency: $cur,
                      warehouse: (.warehouse_id | od_m2o_name) } | compact) }
    elif $state == "cancel" then
      $head + $entity + {type: "erp.order.cancelled", payload: {}}
    else empty end;

# A done outgoing transfer. Without its moves (search_read gives ids) the
# lines are unknown: only a transfer that left no backorder is mapped, as
# "everything shipped" (empty lines); a partial one produces nothing.
def od_picking:
  select((.state | od) == "done" and ((.picking_type_code | od) // "outgoing") == "outgoing")
  | (.sale_id | od_m2o_id) as $order
  | select($order != null and ((.backorder_ids // []) | length) == 0)
  | od_head("stock.picking")
  + { type: "erp.order.shipped",
      occurred_at: ((.date_done | od_time) // od_head("stock.picking").occurred_at),
      source: {entity_type: "delivery", entity_id: (.id | tostring)},
      identities: [.partner_id | od_partner_ident],
      payload: ({ order_id: $order, lines: [],
                  warehouse: (.location_id | od_m2o_name | if . == null then null
                              else split("/")[0] end),
                  carrier: (.carrier_id | od_m2o_name | open_value),
                  tracking_number: (.carrier_tracking_ref | od) } | compact) };

def od_invoice:
  (.currency_id | od_m2o_name) as $cur
  | select((.move_type | od) == "out_invoice" and (.state | od) == "posted" and $cur != null)
  | od_head("account.move")
  + { type: "erp.invoice.issued",
      source: {entity_type: "invoice", entity_id: (.id | tostring)},
      identities: [.partner_id | od_partner_ident],
      payload: ({ invoice_number: (.name | od),
                  total: (.amount_total | tostring | minor($cur)),
                  tax: (.amount_tax | if . == null then null else tostring | minor($cur) end),
                  currency: $cur,
                  due_date: (.invoice_date_due | od | date_utc) } | compact) };

def od_record:
  $meta.resource as $model
  | select(type == "object" and .id != null)
  | if $model == "res.partner" then od_partner
    elif $model == "sale.order" then od_sale_order
    elif $model == "stock.picking" then od_picking
    elif $model == "account.move" then od_invoice
    else empty end;

def events:
  if type == "array" then .[] | od_record
  elif type != "object" then empty
  elif (.records | type) == "array" then .records[] | od_record
  else od_record end;

# --- polling ----------------------------------------------------------------

def od_page_size: 100;

def od_fields($model):
  { "res.partner": ["name", "email", "phone", "is_company", "parent_id", "lang",
                    "country_code", "write_date"],
    "sale.order": ["name", "state", "partner_id", "currency_id", "amount_total",
                   "amount_tax", "warehouse_id", "order_line", "write_date"],
    "stock.picking": ["name", "state", "picking_type_code", "sale_id", "partner_id",
                      "location_id", "carrier_id", "carrier_tracking_ref", "date_done",
                      "backorder_ids", "write_date"],
    "account.move": ["name", "move_type", "state", "partner_id", "currency_id",
                     "amount_total", "amount_tax", "invoice_date_due", "write_date"] }[$model];

def od_scope($model; $params):
  { "res.partner": (if ($params.all_partners // "") == "true" then []
                    else [["customer_rank", ">", 0]] end),
    "sale.order": [["state", "in", ["sale", "done", "cancel"]]],
    "stock.picking": [["picking_type_code", "=", "outgoing"], ["state", "=", "done"]],
    "account.move": [["move_type", "=", "out_invoice"], ["state", "=", "posted"]] }[$model];

# RFC 3339 (UTC) -> Odoo's "YYYY-MM-DD HH:MM:SS".
def od_literal: .[:19] | sub("T"; " ");

def poll_resources: ["res.partner", "sale.order", "stock.picking", "account.move"];

# Keyset pages: the first page takes write_date >= the cursor; a next page
# (the last record's write_date and id) takes what sorts after it.
def poll_request($resource; $cursor; $page; $params):
  { method: "POST",
    path: "/json/2/\($resource)/search_read",
    query: {},
    headers: ({"content-type": "application/json",
               "x-odoo-database": $params.database} | compact),
    body: { domain: (od_scope($resource; $params)
                     + (if $page != null then
                          ["|", ["write_date", ">", ($page.at | od_literal)],
                           "&", ["write_date", "=", ($page.at | od_literal)],
                                ["id", ">", $page.id]]
                        elif $cursor != null then
                          [["write_date", ">=", ($cursor.at | od_literal)]]
                        else [] end)),
            fields: od_fields($resource),
            order: "write_date asc, id asc",
            limit: od_page_size } };

# An error answer ({"name", "message", "arguments", "context", "debug"})
# is raised, not read as an empty page.
def poll_response($resource; $page):
  if type == "object" and has("message") and has("debug") then
    error("odoo: \(.name // "error"): \(.message)")
  else . end
  | (if type == "array" then . else (.records // []) end) as $records
  | {records: $records,
     next: (if ($records | length) == od_page_size then
              ($records | last | {at: (.write_date | od_time), id: .id})
            else null end)};

def poll_cursor($resource):
  {at: (.write_date | od_time), id: (.id | tostring)};
