# hub360 preset: HubSpot (CRM).
#   webhook: the JSON array of events HubSpot POSTs (contact.* and deal.*);
#   poll:    CRM v3 search on lastmodifieddate for contacts and deals;
#   import:  v3 object records (or a saved response page), --resource contacts|deals.
# See tests/adapters/presets/hubspot/NOTES.md.

# A contact or deal property as the canonical field it feeds ({} for a
# property hub360 does not keep). Webhook values are strings.
def hs_contact_field($name; $value):
  { "firstname": {first_name: $value},
    "lastname": {last_name: $value},
    "company": {company: $value},
    "jobtitle": {title: $value},
    "lifecyclestage": {lifecycle_stage: ($value | open_value)},
    "hs_analytics_source": {lead_source: ($value | open_value)},
    "hubspot_owner_id": {owner: $value},
    "hs_language": {locale: ($value | bcp47)},
    "associatedcompanyid": {account_id: $value}
  }[$name] // {};

# Datetime properties: epoch milliseconds in webhooks, RFC 3339 in v3 objects.
def hs_time: if . == null or . == "" then null
             elif (tostring | test("^[0-9]+$")) then ts_ms else rfc3339 end;

# Default-pipeline stage ids; other pipelines' stages are numbers whose
# meaning the portal defines, so their status is left unset.
def hs_stage_status:
  if . == null then null
  elif . == "closedwon" then "won" elif . == "closedlost" then "lost"
  elif test("^[0-9]+$") then null else "open" end;

def hs_deal_field($name; $value):
  { "dealname": {name: $value},
    "dealstage": {stage: ($value | open_value), status: ($value | hs_stage_status)},
    "closedate": {close_date: ($value | hs_time)},
    "closed_lost_reason": {lost_reason: $value},
    "hubspot_owner_id": {owner: $value}
  }[$name] // {};

# --- webhooks -------------------------------------------------------------

def hs_webhook_event:
  (.subscriptionType // .eventType // "") as $kind
  | ($kind | split(".")) as [$object, $change]
  | { id: ([.portalId, .eventId, $kind, .objectId, .propertyName]
           | map(select(. != null) | tostring) | join("/")),
      occurred_at: (.occurredAt | ts_ms),
      source: {entity_type: (if $object == "deal" then "opportunity" else $object end),
               entity_id: (.objectId | tostring)} } as $head
  | if $kind == "contact.creation" then
      $head + {type: "crm.contact.upserted",
               identities: [source_ident("crm_contact"; .objectId)], payload: {}}
    elif $kind == "contact.propertyChange" then
      .propertyName as $p | .propertyValue as $v
      | if $p == "email" or $p == "hs_additional_emails" or $p == "phone" or $p == "mobilephone" then
          ([$v | strings | split(";")[] | select(length > 0)
            | ident(if $p == "phone" or $p == "mobilephone" then "phone" else "email" end; .)]) as $ids
          | select($ids | length > 0)
          | $head + {type: "crm.contact.upserted",
                     identities: ($ids + [source_ident("crm_contact"; .objectId)]), payload: {}}
        else hs_contact_field($p; $v) as $f
          | select($f | length > 0)
          | $head + {type: "crm.contact.upserted",
                     identities: [source_ident("crm_contact"; .objectId)], payload: ($f | compact)}
        end
    elif $kind == "contact.privacyDeletion" then
      # an erasure the portal asked for (GDPR "delete permanently"): the
      # customer this contact belongs to is forgotten in every view
      $head + {type: "customer.forget", identities: [],
               payload: {identity: (source_ident("crm_contact"; .objectId) // null),
                         reason: "gdpr_erasure", requested_by: $source.name}}
    elif $kind == "deal.creation" then
      $head + {type: "crm.opportunity.upserted", identities: [], payload: {}}
    elif $kind == "deal.propertyChange" then
      hs_deal_field(.propertyName; .propertyValue) as $f
      | select($f | length > 0)
      | $head + {type: "crm.opportunity.upserted", identities: [], payload: ($f | compact)}
    else empty end;

# --- v3 objects (poll, import) ---------------------------------------------

def hs_contact_object:
  .properties as $p
  | { type: "crm.contact.upserted",
      id: "contact/\(.id)/\(.updatedAt // $p.lastmodifieddate)",
      occurred_at: ((.updatedAt // $p.lastmodifieddate) | rfc3339),
      source: {entity_type: "contact", entity_id: (.id | tostring)},
      identities: ([ident("email"; $p.email)]
                   + [($p.hs_additional_emails // "") | split(";")[] | ident("email"; .)]
                   + [ident("phone"; $p.phone), ident("phone"; $p.mobilephone)]
                   + [source_ident("crm_contact"; .id)]),
      payload: ({ first_name: $p.firstname, last_name: $p.lastname,
                  company: $p.company, title: $p.jobtitle,
                  lifecycle_stage: ($p.lifecyclestage | open_value),
                  lead_source: ($p.hs_analytics_source | open_value),
                  owner: $p.hubspot_owner_id, locale: ($p.hs_language | bcp47),
                  account_id: $p.associatedcompanyid,
                  region: iso_region($p.hs_country_region_code; $p.hs_state_code) }
                | compact) };

def hs_deal_object:
  .properties as $p
  | ($p.deal_currency_code // null) as $cur
  | { type: "crm.opportunity.upserted",
      id: "deal/\(.id)/\(.updatedAt // $p.hs_lastmodifieddate)",
      occurred_at: ((.updatedAt // $p.hs_lastmodifieddate) | rfc3339),
      source: {entity_type: "opportunity", entity_id: (.id | tostring)},
      identities: [],
      payload: ({ name: $p.dealname,
                  stage: ($p.dealstage | open_value),
                  status: (if $p.hs_is_closed_won == "true" then "won"
                           elif $p.hs_is_closed == "true" then "lost"
                           elif $p.hs_is_closed == "false" then "open"
                           else ($p.dealstage | hs_stage_status) end),
                  amount: (if $cur then ($p.amount | minor($cur)) else null end),
                  currency: (if $p.amount != null and $p.amount != "" then $cur else null end),
                  close_date: ($p.closedate | hs_time),
                  lost_reason: $p.closed_lost_reason,
                  owner: $p.hubspot_owner_id }
                | compact) };

def hs_object:
  select(.id != null)
  | if $meta.resource == "deals" then hs_deal_object else hs_contact_object end;

def events:
  if $meta.via == "poll" or $meta.via == "import" then
    objects | if (.results | type) == "array" then .results[] | objects | hs_object
              else hs_object end
  elif type == "array" then .[] | objects | hs_webhook_event
  else objects | hs_webhook_event end;

# --- polling ----------------------------------------------------------------

def hs_modified_property($resource):
  if $resource == "deals" then "hs_lastmodifieddate" else "lastmodifieddate" end;

def poll_resources: ["contacts", "deals"];

def poll_request($resource; $cursor; $page; $params):
  hs_modified_property($resource) as $m
  | { method: "POST",
      path: "/crm/v3/objects/\($resource)/search",
      query: {},
      headers: {"content-type": "application/json"},
      body: ({ filterGroups: (if $cursor == null then []
                              else [{filters: [{propertyName: $m, operator: "GTE",
                                                value: $cursor.at}]}] end),
               sorts: [{propertyName: $m, direction: "ASCENDING"}],
               properties: (if $resource == "deals" then
                 ["dealname", "dealstage", "pipeline", "amount", "deal_currency_code",
                  "closedate", "closed_lost_reason", "hubspot_owner_id",
                  "hs_is_closed", "hs_is_closed_won", "hs_lastmodifieddate"]
               else
                 ["email", "hs_additional_emails", "phone", "mobilephone",
                  "firstname", "lastname", "company", "jobtitle", "lifecyclestage",
                  "hs_analytics_source", "hubspot_owner_id", "hs_language",
                  "associatedcompanyid", "hs_country_region_code", "hs_state_code",
                  "lastmodifieddate"] end),
               limit: 100,
               after: $page } | compact) };

# The search pages one query through its first 10,000 results only (an
# `after` of 10,000 or more is answered 400): past that, a new search from
# the cursor goes on (`restart`).
def poll_response($resource; $page):
  (.paging.next.after // null) as $after
  | if $after != null and (try ($after | tonumber) catch 0) >= 10000
    then {records: (.results // []), next: null, restart: true}
    else {records: (.results // []), next: $after} end;

def poll_cursor($resource):
  {at: ((.updatedAt // .properties[hs_modified_property($resource)]) | rfc3339),
   id: (.id | tostring)};
