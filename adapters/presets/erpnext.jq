# hub360 preset: ERPNext (ERP, on the Frappe framework).
#   poll:    GET /api/resource/<DocType> on `modified` for Customer, Sales
#            Order and Sales Invoice (list rows: parent fields only);
#   webhook: a Frappe Webhook whose JSON body is the document (doc.as_json()),
#            for any of the doctypes below, Delivery Note included;
#   import:  documents (a JSON array, or {"data": ...}), --resource <DocType>.
# The doctype is the document's `doctype`, else $meta.resource.
# See tests/adapters/presets/erpnext/NOTES.md.

def ex_amount($cur): if . == null or $cur == null then null else tostring | minor($cur) end;

# Frappe datetimes are "YYYY-MM-DD HH:MM:SS.ffffff" in the site's time zone,
# read here as UTC (see NOTES.md).
def ex_head($doctype):
  if .modified != null then
    {id: "\($doctype)/\(.name)/\(.modified)", occurred_at: (.modified | rfc3339)}
  else {occurred_at: $meta.received_at} end;

def ex_people: [ident("email"; .contact_email), ident("phone"; .contact_mobile),
                ident("phone"; .contact_phone), source_ident("erp_customer"; .customer)];

# Whole stock units: the stock quantity where the row has it, rounded.
def ex_qty: (.stock_qty // .qty // 0) | round;

def ex_lines($cur; $price):
  [(.items // [])[]
   | { sku: .item_code, name: .item_name, quantity: ex_qty,
       unit_price: (if $price then ((.net_rate // .rate) | ex_amount($cur)) else null end),
       warehouse: .warehouse } | compact];

def ex_customer:
  (.name // .customer_name) as $name
  | ex_head("Customer")
  + { type: "erp.customer.upserted",
      source: {entity_type: "customer", entity_id: $name},
      identities: [ident("email"; .email_id), ident("phone"; .mobile_no),
                   source_ident("erp_customer"; $name)],
      payload: ({ name: .customer_name,
                  customer_type: (.customer_type | open_value
                                  | if . == "individual" or . == "company" then . else null end),
                  customer_group: (.customer_group | open_value),
                  default_currency: (.default_currency // .party_account_currency),
                  locale: (.language | bcp47),
                  region: (if .territory == "All Territories" then null else .territory end) }
                | compact) };

def ex_sales_order:
  .currency as $cur
  | ex_head("Sales Order") as $head
  | { source: {entity_type: "sales_order", entity_id: .name}, identities: ex_people } as $entity
  | if .docstatus == 1 then
      $head + $entity
      + { type: "erp.order.placed",
          payload: ({ order_number: .name,
                      channel: (.order_type | open_value),
                      lines: ex_lines($cur; true),
                      total: (.grand_total | ex_amount($cur)),
                      tax: (.total_taxes_and_charges | ex_amount($cur)),
                      discount: (.discount_amount | ex_amount($cur)),
                      currency: $cur,
                      warehouse: .set_warehouse } | compact) }
    elif .docstatus == 2 then
      $head + $entity + {type: "erp.order.cancelled", payload: {}}
    else empty end;

# A submitted delivery note (not a return) is a shipment of the sales order
# its rows name (`against_sales_order`); without its rows it names none.
def ex_delivery_note:
  ([(.items // [])[].against_sales_order | strings] | first // null) as $order
  | select(.docstatus == 1 and (.is_return // 0) == 0 and $order != null)
  | ex_head("Delivery Note")
  + { type: "erp.order.shipped",
      source: {entity_type: "delivery_note", entity_id: .name},
      identities: ex_people,
      payload: ({ order_id: $order,
                  lines: ex_lines(null; false),
                  warehouse: .set_warehouse,
                  carrier: (.transporter_name | open_value),
                  tracking_number: .lr_no } | compact) };

def ex_sales_invoice:
  .currency as $cur
  | select(.docstatus == 1 and (.is_return // 0) == 0)
  | ex_head("Sales Invoice")
  + { type: "erp.invoice.issued",
      source: {entity_type: "sales_invoice", entity_id: .name},
      identities: ex_people,
      payload: ({ invoice_number: .name,
                  order_id: ([(.items // [])[].sales_order | strings] | first // null),
                  total: (.grand_total | ex_amount($cur)),
                  tax: (.total_taxes_and_charges | ex_amount($cur)),
                  currency: $cur,
                  due_date: (.due_date | date_utc) } | compact) };

def ex_doc:
  objects
  | select(.name != null or .customer_name != null)
  | (.doctype // $meta.resource) as $doctype
  | if $doctype == "Customer" then ex_customer
    elif $doctype == "Sales Order" then ex_sales_order
    elif $doctype == "Delivery Note" then ex_delivery_note
    elif $doctype == "Sales Invoice" then ex_sales_invoice
    else empty end;

def events:
  if type == "array" then .[] | ex_doc
  elif type != "object" then empty
  elif (.data | type) == "array" then .data[] | ex_doc
  elif (.data | type) == "object" then .data | ex_doc
  else ex_doc end;

# --- polling ----------------------------------------------------------------

def ex_page_size: 100;

# RFC 3339 -> Frappe's "YYYY-MM-DD HH:MM:SS[.fff]".
def ex_literal: sub("T"; " ") | sub("(Z|[+-]\\d\\d:\\d\\d)$"; "");

def poll_resources: ["Customer", "Sales Order", "Sales Invoice"];

# Keyset pages on (modified, name): a next page is the last row's exact
# `modified` (microseconds, as Frappe wrote it) and name; the filters AND
# the or_filters give modified > m OR (modified = m AND name > n).
def poll_request($resource; $cursor; $page; $params):
  ((if $resource == "Customer" then [] else [["docstatus", "!=", 0]] end)
   + (if $page != null then [["modified", ">=", $page.modified]]
      elif $cursor != null then [["modified", ">=", ($cursor.at | ex_literal)]]
      else [] end)) as $filters
  | { method: "GET",
      path: "/api/resource/\($resource)",
      query: ({ fields: (["*"] | tojson),
                filters: ($filters | tojson),
                or_filters: (if $page != null then
                               ([["modified", ">", $page.modified], ["name", ">", $page.name]]
                                | tojson)
                             else null end),
                order_by: "modified asc, name asc",
                limit_page_length: (ex_page_size | tostring) } | compact),
      headers: {}, body: null };

def poll_response($resource; $page):
  (.data // []) as $rows
  | {records: $rows,
     next: (if ($rows | length) == ex_page_size then
              ($rows | last | {modified, name}) else null end)};

# The cursor keeps Frappe's microseconds (RFC 3339 allows them): cut to
# milliseconds, two rows of one millisecond would compare on their names
# alone, though Frappe ordered them by time.
def poll_cursor($resource):
  {at: (.modified | sub(" "; "T") + "Z"), id: .name};
