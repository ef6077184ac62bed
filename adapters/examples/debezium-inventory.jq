# hub360 - an example CDC mapping: the Debezium tutorial's MySQL database
# `inventory` (connector name dbserver1), table by table.
#
#   sources:
#     - name: inventory
#       system: erp
#       mapping: adapters/examples/debezium-inventory.jq
#       cdc: {topics: [dbserver1.inventory.customers]}
#
# `.` is the change event (the JsonConverter envelope's payload, with or
# without the schema): op c (insert), u (update), d (delete), r (a
# snapshot's read), before and after (the row), source (where in the
# database's log), ts_ms. $meta.resource is "<db>.<table>", so one
# mapping serves every table of a connector and says per table what its
# rows become; a table it does not name produces nothing.
#
# Event ids: dbz_id (the prelude) is "<table>/<primary key>/<position in
# the binlog>" (source.file:pos:row). A record hub360 consumes twice
# (after a crash before its commit) and a change Debezium emits twice
# (after a connector restart) carry the same position, so they become
# the same event_id and the projector counts them once; two changes of a
# row never share a position, and a snapshot's rows (one position) differ
# by their key.
#
# sequence: dbz_sequence (the prelude) is the change's place in the
# binlog as a number. MySQL's ts_ms is whole seconds, so two changes of
# a row within one second (always, within one transaction) share
# occurred_at; the sequence makes the later one win.

# inventory.customers: id, first_name, last_name, email.
#
# Inserts, updates and snapshot reads are the customer as it now is. A
# delete produces nothing: there is no canonical "customer deleted" fact
# (hub360 keeps what it learned of a customer; erasing a person is
# customer.forget, a decision for a person, not a side effect of a row
# going away). Debezium's tombstone after a delete never reaches a
# mapping.
def customers:
  if .op == "c" or .op == "u" or .op == "r" then
    .after as $r
    | { type: "erp.customer.upserted",
        id: dbz_id($r.id),
        occurred_at: (dbz_ts_ms | ts_ms),
        sequence: dbz_sequence,
        source: {entity_type: "customer", entity_id: $r.id},
        identities: [ident("email"; $r.email), source_ident("erp_customer"; $r.id)],
        payload: ({first_name: $r.first_name, last_name: $r.last_name} | compact) }
  else empty end;

def events:
  if $meta.resource == "inventory.customers" then customers
  else empty end;
