# A mapping for the fake vendor API of tests/e2e/fake_vendor.py
# (tests/e2e/test_poll.sh), with its polling definitions. Two resources,
# paged two ways:
# - customers: offset pages, followed through the vendor's next links
#   (`url` replaces poll.url); integer ids.
# - orders: keyset pages on updated_at alone (the next page asks again
#   from the last record's updated_at, so the records of that instant
#   come twice and the poller must drop the ones it has); string ids.

def events:
  if $meta.resource == "orders" then
    {type: "erp.order.placed",
     id: ("order/" + .id + "/" + .updated_at),
     occurred_at: .updated_at,
     source: {entity_type: "order", entity_id: .id},
     identities: [ident("email"; .email)],
     payload: {order_number: .id, total: .total, currency: "CNY"}}
  else
    {type: "erp.customer.upserted",
     id: ("customer/\(.id)/" + .updated_at),
     occurred_at: .updated_at,
     source: {entity_type: "customer", entity_id: .id},
     identities: [ident("email"; .email)],
     payload: {first_name: (.name | split(" ")[0]),
               last_name: (.name | split(" ")[1:] | join(" "))}}
  end;

def poll_resources: ["customers", "orders"];

def poll_request($resource; $cursor; $page; $params):
  if $resource == "customers" and $page != null then
    {method: "GET", url: $page}
  else
    {method: "GET",
     path: "/\($resource)",
     query: ({limit: ($params.limit // "100")}
             + (if $page != null then {updated_since: $page}
                elif $cursor != null then {updated_since: $cursor.at}
                else {} end)),
     headers: {}, body: null}
  end;

def poll_response($resource; $page):
  if $resource == "customers" then {records: .customers, next: .next_url}
  else {records: .orders,
        next: (if .next != null then .orders[-1].updated_at else null end)}
  end;

def poll_cursor($resource): {at: .updated_at, id: (.id | tostring)};
