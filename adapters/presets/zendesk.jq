# hub360 preset: Zendesk Support (CRM: help desk).
#   webhook: event webhooks ("type": "zen:event-type:ticket.*" and
#            "zen:event-type:messaging_ticket.message_added");
#   poll:    the cursor-based incremental ticket export, users side-loaded;
#   import:  ticket objects (or a saved export page), --resource tickets.
# See tests/adapters/presets/zendesk/NOTES.md.

def zd_lower: if . == null or . == "" then null else tostring | open_value end;

def zd_priority:
  zd_lower | if . == "low" or . == "normal" or . == "high" or . == "urgent" then . else null end;

def zd_closed: . == "solved" or . == "closed";

# Zendesk writes 0 (or "0") for "no organisation".
def zd_id($id): if $id == 0 or $id == "0" then null else $id end;

# The people of a ticket: the requester's e-mail and phone where known
# (side-loaded users), their Zendesk user id, and the organisation.
def zd_identities($requester):
  [ident("email"; $requester.email), ident("phone"; $requester.phone),
   source_ident("crm_contact"; zd_id(.requester_id)),
   source_ident("crm_account"; zd_id(.organization_id))];

# --- event webhooks -----------------------------------------------------------

def zd_webhook:
  (.type // "" | ltrimstr("zen:event-type:")) as $kind
  | .detail as $d
  | { id: .id,
      occurred_at: (.time | rfc3339),
      source: {entity_type: "ticket",
               entity_id: (($d.id // (.subject | last_segment)) | tostring)},
      identities: ($d | zd_identities(null)) } as $head
  | (.event.current | zd_lower) as $current
  | if $kind == "ticket.created" then
      $head + {type: "crm.ticket.opened",
               payload: ({subject: $d.subject, status: ($d.status | zd_lower),
                          priority: ($d.priority | zd_priority),
                          category: ($d.type | zd_lower),
                          channel: ($d.via.channel | zd_lower),
                          assignee: ($d.assignee_id | if . == null then null else tostring end)}
                         | compact)}
    elif $kind == "ticket.status_changed" then
      if ($current | zd_closed) then
        $head + {type: "crm.ticket.resolved",
                 payload: ({status: $current, opened_at: ($d.created_at | rfc3339),
                            assignee: ($d.assignee_id | if . == null then null else tostring end)}
                           | compact)}
      elif $current != null then
        $head + {type: "crm.ticket.updated", payload: {status: $current}}
      else empty end
    elif $kind == "ticket.priority_changed" then
      ($current | zd_priority) as $p
      | select($p != null)
      | $head + {type: "crm.ticket.updated", payload: {priority: $p}}
    elif $kind == "ticket.agent_assignment_changed" then
      $head + {type: "crm.ticket.updated",
               payload: {assignee: (.event.current | if . == null then "" else tostring end)}}
    elif $kind == "ticket.subject_changed" then
      select(.event.current != null)
      | $head + {type: "crm.ticket.updated", payload: {subject: .event.current}}
    elif $kind == "ticket.comment_added" then
      select(.event.comment.body != null)
      | $head + {type: "crm.ticket.updated",
                 payload: ({comment: .event.comment.body,
                            comment_public: .event.comment.is_public} | compact)}
    elif $kind == "messaging_ticket.message_added" then
      select(.event.message.body != null)
      | $head + {type: "crm.ticket.updated", payload: {comment: .event.message.body}}
    else empty end;

# --- ticket objects (incremental export, import) -------------------------------

def zd_ticket:
  select(.id != null)
  | (.status | zd_lower) as $status
  | (._hub360_requester // null) as $requester
  | { id: "ticket/\(.id)/\(.updated_at)",
      occurred_at: (.updated_at | rfc3339),
      source: {entity_type: "ticket", entity_id: (.id | tostring)},
      identities: zd_identities($requester) } as $head
  | (.assignee_id | if . == null then null else tostring end) as $assignee
  | if $status == "deleted" or $status == null then empty
    elif ($status | zd_closed) then
      $head + {type: "crm.ticket.resolved",
               payload: ({status: $status, opened_at: (.created_at | rfc3339),
                          assignee: $assignee} | compact)}
    elif .created_at == .updated_at then
      $head + {type: "crm.ticket.opened",
               payload: ({subject: (.subject // .raw_subject), status: $status,
                          priority: (.priority | zd_priority),
                          category: (.type | zd_lower),
                          channel: (.via.channel | zd_lower),
                          assignee: $assignee} | compact)}
    else
      $head + {type: "crm.ticket.updated",
               payload: ({subject: (.subject // .raw_subject), status: $status,
                          priority: (.priority | zd_priority),
                          assignee: $assignee} | compact)}
    end;

# An export page: its tickets, each with its requester from the
# side-loaded users.
def zd_page_tickets:
  ((.users // []) | map({key: (.id | tostring), value: {email, phone}}) | from_entries) as $users
  | (.tickets // [])
  | map(. + {_hub360_requester: $users[(.requester_id | tostring)]});

def events:
  objects
  | if (.type | type) == "string" and (.type | startswith("zen:event-type:")) then zd_webhook
  elif (.tickets | type) == "array" then zd_page_tickets[] | zd_ticket
  elif $meta.via == "poll" or $meta.via == "import" then zd_ticket
  else empty end;

# --- polling --------------------------------------------------------------------

def poll_resources: ["tickets"];

# The export filters on generated_timestamp (epoch seconds), so that is the
# cursor; a time given as RFC 3339 in whole seconds UTC.
def poll_request($resource; $cursor; $page; $params):
  { method: "GET",
    path: "/api/v2/incremental/tickets/cursor.json",
    query: (if $page != null then {cursor: $page, include: "users"}
            else {start_time: (if $cursor == null then ($params.start_time // "0")
                               else ($cursor.at | .[:19] + "Z" | fromdateiso8601 | tostring) end),
                  include: "users"} end),
    headers: {}, body: null };

def poll_response($resource; $page):
  {records: zd_page_tickets,
   next: (if .end_of_stream == false then .after_cursor else null end)};

def poll_cursor($resource):
  {at: ((.generated_timestamp | ts_s) // (.updated_at | rfc3339)), id: (.id | tostring)};
