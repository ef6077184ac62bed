# hub360 preset: Weibo fan service (微博粉丝服务), an SCRM source.
#
# Records: the JSON pushes Weibo POSTs to the fan-service callback URL:
# private messages (type text, position, voice, image) and events (type
# event, data.subtype follow, unfollow, scan_follow, ...). The same
# objects may be imported as NDJSON (one push a line).
# Other types and subtypes (subscribe, unsubscribe, scan, click, view,
# mention, ...) produce nothing.
# Notes: tests/adapters/presets/weibo/NOTES.md.

# "Mon Jul 16 18:09:20 +0800 2012" (Weibo's created_at) -> RFC 3339 UTC.
# Other text is returned as is, for hub360's check to name.
def weibo_time:
  if . == null or . == "" then null
  else tostring as $raw
     | [$raw | capture("^[A-Za-z]{3} (?<mon>[A-Za-z]{3}) (?<day>[0-9]{1,2}) (?<hms>[0-9]{2}:[0-9]{2}:[0-9]{2}) (?<sign>[+-])(?<oh>[0-9]{2})(?<om>[0-9]{2}) (?<year>[0-9]{4})$")][0] as $c
     | if $c == null then $raw
       else ("\($c.year) \($c.mon) \($c.day) \($c.hms)" | strptime("%Y %b %d %H:%M:%S") | mktime)
            - ((($c.oh | tonumber) * 3600 + ($c.om | tonumber) * 60)
               * (if $c.sign == "-" then -1 else 1 end))
          | epoch_todate
       end
  end;

def weibo_str: if . == null or . == "" then null else tostring end;

# The push's own "id" where Weibo sends one (some event pushes do), else
# what Weibo advises to de-duplicate retries on: sender_id + created_at
# (with the kind of push, so a message and an event of one second differ).
def weibo_id($kind; $at; $what):
  if .id != null and .id != "" then "push/" + (.id | tostring)
  else $kind + "/" + (.sender_id | tostring) + "/" + $at + "/" + $what end;

def weibo_message:
  (if .type == "position" then "location" else .type end) as $t
  | (.created_at | weibo_time) as $at
  | {type: "scrm.message.received",
     id: weibo_id("msg"; $at; .type),
     occurred_at: $at,
     source: {entity_type: "conversation", entity_id: (.sender_id | tostring)},
     identities: [handle_ident("weibo"; .sender_id)],
     payload: ({platform: "weibo",
                message_type: $t,
                # voice and image pushes carry a default caption ("发了一个
                # 语音消息"), not the user's words; a position's text is the
                # user's, unless it is the default "发送了一个位置".
                text: (if .type == "text" then .text
                       elif .type == "position" and .text != "发送了一个位置" then (.text | weibo_str)
                       else null end),
                media_url: (if .type == "voice" or .type == "image"
                            then (.data.vfid | weibo_str) else null end),
                account: (.receiver_id | weibo_str)} | compact)};

def weibo_event:
  (.data.subtype // "") as $sub
  | (.created_at | weibo_time) as $at
  | {id: weibo_id("event"; $at; $sub),
     occurred_at: $at,
     source: {entity_type: "follower", entity_id: (.sender_id | tostring)},
     identities: [handle_ident("weibo"; .sender_id)]} as $base
  | if $sub == "follow" then
      $base + {type: "scrm.follow.started",
               payload: ({platform: "weibo", account: (.receiver_id | weibo_str)} | compact)}
    elif $sub == "scan_follow" then
      $base + {type: "scrm.follow.started",
               payload: ({platform: "weibo", account: (.receiver_id | weibo_str),
                          scene: "qrcode", scene_id: (.data.key | weibo_str)} | compact)}
    elif $sub == "unfollow" then
      $base + {type: "scrm.follow.stopped",
               payload: ({platform: "weibo", account: (.receiver_id | weibo_str)} | compact)}
    else empty end;

def events:
  if type != "object" or .sender_id == null or .created_at == null then empty
  elif .type == "text" or .type == "position" or .type == "voice" or .type == "image" then weibo_message
  elif .type == "event" then weibo_event
  else empty end;
