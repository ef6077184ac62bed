# A mapping for an ERP's customer CSV export (tests/e2e/test_import.sh):
# columns id, name, email, phone, updated.
def events:
  {type: "erp.customer.upserted",
   id: ("customer/" + .id + "/" + .updated),
   occurred_at: .updated,
   source: {entity_type: "customer", entity_id: .id},
   identities: [ident("email"; .email), ident("phone"; .phone)],
   payload: {first_name: (.name | split(" ")[0]),
             last_name: (.name | split(" ")[1:] | join(" "))}};
