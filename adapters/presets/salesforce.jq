# hub360 preset: Salesforce (CRM).
#   poll:    REST query (SOQL) on SystemModstamp for Lead, Contact, Account,
#            Opportunity and Case, following nextRecordsUrl;
#   webhook/import/cdc: Change Data Capture events, as CometD delivers them
#            ({"data": {"payload": {...ChangeEventHeader...}, "event": {...}}})
#            or as the bare payload (Pub/Sub API, a relay);
#   import:  sObject records (or a saved query response), --resource <sObject>.
# See tests/adapters/presets/salesforce/NOTES.md.

# Region from a country (a 2-letter code where State and Country picklists
# are on, else free text) and a state: ISO 3166-2 where both are codes.
def sf_region($country; $state):
  if ($country | type) != "string" or $country == "" then null
  elif ($country | test("^[A-Z]{2}$")) then
    iso_region($country; (if ($state | type) == "string" and ($state | test("^[A-Z0-9]{1,3}$"))
                          then $state else null end))
  else $country end;

def sf_domain: if . == null or . == "" then null
               else ascii_downcase | sub("^[a-z]+://"; "") | sub("[/:?#].*$"; "")
                  | sub("^www\\."; "") end;

def sf_priority:
  if . == null then null else ascii_downcase
  | if . == "low" then "low" elif . == "medium" or . == "normal" then "normal"
    elif . == "high" then "high" elif . == "critical" or . == "urgent" then "urgent"
    else null end end;

def sf_amount($cur): if $cur == null then null else minor($cur) end;

# --- one sObject (a query record, or a CDC payload flattened to its shape) --

def sf_lead_payload:
  { name: .Name, first_name: .FirstName, last_name: .LastName,
    company: .Company, title: .Title,
    lead_source: (.LeadSource | open_value), status: (.Status | open_value),
    owner: .OwnerId, region: sf_region(.Country; .State) } | compact;

def sf_lead_ids: [ident("email"; .Email), ident("phone"; .Phone),
                  ident("phone"; .MobilePhone), source_ident("crm_lead"; .Id)];

# $created: true, false or null (null: not known, the record is an update).
def sf_object($entity; $created; $head):
  if $entity == "Lead" then
    ($head + {type: (if $created then "crm.lead.created" else "crm.lead.updated" end),
              source: {entity_type: "lead", entity_id: .Id},
              identities: sf_lead_ids, payload: sf_lead_payload}),
    (select(.IsConverted == true)
     | $head + {type: "crm.lead.converted", id: ($head.id + "/converted"),
                source: {entity_type: "lead", entity_id: .Id},
                identities: ([ident("email"; .Email), source_ident("crm_lead"; .Id),
                              source_ident("crm_contact"; .ConvertedContactId)]),
                payload: ({contact_id: .ConvertedContactId,
                           account_id: .ConvertedAccountId,
                           opportunity_id: .ConvertedOpportunityId} | compact)})
  elif $entity == "Contact" then
    $head + {type: "crm.contact.upserted",
             source: {entity_type: "contact", entity_id: .Id},
             identities: [ident("email"; .Email), ident("phone"; .Phone),
                          ident("phone"; .MobilePhone), source_ident("crm_contact"; .Id),
                          source_ident("crm_account"; .AccountId)],
             payload: ({ name: .Name, first_name: .FirstName, last_name: .LastName,
                         account_id: .AccountId, title: .Title,
                         lead_source: (.LeadSource | open_value), owner: .OwnerId,
                         region: sf_region(.MailingCountry; .MailingState) } | compact)}
  elif $entity == "Account" then
    .CurrencyIsoCode as $cur
    | $head + {type: "crm.account.upserted",
             source: {entity_type: "account", entity_id: .Id},
             identities: [source_ident("crm_account"; .Id)],
             payload: ({ name: .Name, domain: (.Website | sf_domain),
                         industry: (.Industry | open_value),
                         employee_count: .NumberOfEmployees,
                         annual_revenue: (.AnnualRevenue | sf_amount($cur)),
                         currency: (if .AnnualRevenue != null then $cur else null end),
                         parent_account_id: .ParentId, owner: .OwnerId,
                         region: sf_region(.BillingCountry; .BillingState) } | compact)}
  elif $entity == "Opportunity" then
    .CurrencyIsoCode as $cur
    | ((.OpportunityContactRoles.records // []) | map(.ContactId) | first) as $contact
    | $head + {type: "crm.opportunity.upserted",
               source: {entity_type: "opportunity", entity_id: .Id},
               identities: [source_ident("crm_contact"; $contact), source_ident("crm_account"; .AccountId)],
               payload: ({ name: .Name, stage: (.StageName | open_value),
                           status: (if .IsWon == true then "won"
                                    elif .IsClosed == true then "lost"
                                    elif .IsClosed == false then "open" else null end),
                           amount: (.Amount | sf_amount($cur)),
                           currency: (if .Amount != null then $cur else null end),
                           close_date: (.CloseDate | date_utc),
                           account_id: .AccountId, owner: .OwnerId } | compact)}
  elif $entity == "Case" then
    { source: {entity_type: "ticket", entity_id: .Id},
      identities: [ident("email"; .ContactEmail), ident("email"; .SuppliedEmail),
                   ident("phone"; .SuppliedPhone), source_ident("crm_contact"; .ContactId),
                   source_ident("crm_account"; .AccountId)] } as $case
    | if .IsClosed == true or (.ClosedDate // null) != null then
        $head + $case + {type: "crm.ticket.resolved",
                         occurred_at: ((.ClosedDate | rfc3339) // $head.occurred_at),
                         payload: ({status: (.Status | open_value),
                                    opened_at: (.CreatedDate | rfc3339),
                                    assignee: .OwnerId} | compact)}
      elif $created then
        $head + $case + {type: "crm.ticket.opened",
                         payload: ({subject: .Subject, status: (.Status | open_value),
                                    priority: (.Priority | sf_priority),
                                    category: (.Type | open_value),
                                    channel: (.Origin | open_value),
                                    assignee: .OwnerId} | compact)}
      else
        $head + $case + {type: "crm.ticket.updated",
                         payload: ({subject: .Subject, status: (.Status | open_value),
                                    priority: (.Priority | sf_priority),
                                    assignee: .OwnerId} | compact)}
      end
  else empty end;

def sf_modstamp: .SystemModstamp // .LastModifiedDate;

def sf_record:
  select(.Id != null)
  | (.attributes.type // $meta.resource) as $entity
  | { id: "\($entity)/\(.Id)/\(sf_modstamp)", occurred_at: (sf_modstamp | rfc3339) } as $head
  | sf_object($entity;
              (.CreatedDate != null and .CreatedDate == .LastModifiedDate); $head);

# --- Change Data Capture ----------------------------------------------------

# A CDC payload in the query record's shape: compound Name and address
# fields flattened into their components.
def sf_cdc_flat:
  (if (.Name | type) == "object" then . + .Name + {Name: null} else . end)
  | (if (.BillingAddress | type) == "object"
     then . + {BillingCountry: .BillingAddress.Country, BillingState: .BillingAddress.State}
     else . end)
  | (if (.MailingAddress | type) == "object"
     then . + {MailingCountry: .MailingAddress.Country, MailingState: .MailingAddress.State}
     else . end)
  | (if (.Address | type) == "object"
     then . + {Country: .Address.Country, State: .Address.State} else . end);

def sf_cdc:
  .ChangeEventHeader as $h
  | select($h.changeType == "CREATE" or $h.changeType == "UPDATE"
           or $h.changeType == "UNDELETE")
  | sf_cdc_flat as $rec
  | $h.recordIds[]
  | . as $rid
  | { id: "cdc/\($h.transactionKey)/\($h.sequenceNumber)/\($rid)",
      occurred_at: ($h.commitTimestamp | ts_ms),
      sequence: ($h.sequenceNumber | sequence_number) } as $head
  | $rec + {Id: $rid}
  | sf_object($h.entityName; ($h.changeType == "CREATE"); $head);

def events:
  objects
  | if (try .data.payload.ChangeEventHeader catch null) != null then .data.payload | sf_cdc
  elif .ChangeEventHeader != null then sf_cdc
  elif (.records | type) == "array" then .records[] | sf_record
  else sf_record end;

# --- polling ----------------------------------------------------------------

def sf_fields($resource; $params):
  ({ "Lead": ["Name", "FirstName", "LastName", "Company", "Title", "Email", "Phone",
              "MobilePhone", "LeadSource", "Status", "OwnerId", "Country", "State",
              "IsConverted", "ConvertedContactId", "ConvertedAccountId",
              "ConvertedOpportunityId"],
     "Contact": ["Name", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title",
                 "AccountId", "OwnerId", "LeadSource", "MailingCountry", "MailingState"],
     "Account": ["Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue",
                 "ParentId", "OwnerId", "BillingCountry", "BillingState"],
     "Opportunity": ["Name", "StageName", "IsClosed", "IsWon", "Amount", "CloseDate",
                     "AccountId", "OwnerId",
                     "(SELECT ContactId FROM OpportunityContactRoles WHERE IsPrimary = true)"],
     "Case": ["CaseNumber", "Subject", "Status", "Priority", "Type", "Origin", "OwnerId",
              "ContactId", "ContactEmail", "SuppliedEmail", "SuppliedPhone", "AccountId",
              "IsClosed", "ClosedDate"] }[$resource])
  + (if ($params.multicurrency // "") == "true"
        and ($resource == "Account" or $resource == "Opportunity")
     then ["CurrencyIsoCode"] else [] end)
  | ["Id"] + . + ["CreatedDate", "LastModifiedDate", "SystemModstamp"];

# A cursor time as a SOQL datetime literal (UTC, whole seconds: SOQL takes
# no fraction, and the poller drops what is at or before the cursor).
def sf_literal: .[:19] + "Z";

def poll_resources: ["Lead", "Contact", "Account", "Opportunity", "Case"];

def poll_request($resource; $cursor; $page; $params):
  if $page != null then
    {method: "GET", path: $page, query: {}, headers: {}, body: null}
  else
    {method: "GET",
     path: "/services/data/\($params.api_version // "v60.0")/query",
     query: {q: ("SELECT " + (sf_fields($resource; $params) | join(", "))
                 + " FROM " + $resource
                 + (if $cursor == null then ""
                    else " WHERE SystemModstamp >= " + ($cursor.at | sf_literal) end)
                 + " ORDER BY SystemModstamp ASC, Id ASC")},
     headers: {}, body: null}
  end;

def poll_response($resource; $page):
  {records: (.records // []),
   next: (if .done == false then .nextRecordsUrl else null end)};

def poll_cursor($resource):
  {at: (sf_modstamp | rfc3339), id: .Id};
