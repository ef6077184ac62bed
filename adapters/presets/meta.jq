# hub360 preset: Meta (Facebook Pages, Messenger, Instagram), an SCRM source.
#
# Records: the webhook envelopes Meta POSTs, {"object": "page"|"instagram",
# "entry": [...]}, each entry with `changes` (field/value) or `messaging`
# (Messenger Platform / Instagram messaging). One envelope may batch several
# entries and changes; each maps on its own.
#   page      feed comment add/edited          -> scrm.comment.posted
#   page      feed post/status add by a visitor -> scrm.mention.posted
#   page      mention (with its text)           -> scrm.mention.posted
#   page      messaging message / echo          -> scrm.message.received / sent
#   instagram comments, live_comments           -> scrm.comment.posted
#   instagram messaging message / echo          -> scrm.message.received / sent
# Everything else (reactions, removals, hides, read and delivery receipts,
# postbacks, Instagram mentions that carry only ids, other objects) maps to
# nothing. Our own page's or account's comments and posts map to nothing.
# Notes: tests/adapters/presets/meta/NOTES.md.

def meta_str: if . == null or . == "" then null else tostring end;

# Messenger attachment types -> the message_type vocabulary.
def meta_message_type:
  if .sticker_id != null then "sticker"
  elif (.attachments | type) == "array" and (.attachments | length) > 0 then
    ({"audio": "voice", "fallback": "link"}[.attachments[0].type]
     // .attachments[0].type | ascii_downcase)
  else "text" end;

# One item of entry.messaging. $platform: facebook|instagram.
def meta_messaging($platform):
  select((.message | type) == "object" and .message.mid != null
         and (.message.is_deleted | not))
  | (.message.is_echo == true) as $echo
  | (if $echo then .recipient.id else .sender.id end | meta_str) as $user
  | (if $echo then .sender.id else .recipient.id end | meta_str) as $account
  | {type: (if $echo then "scrm.message.sent" else "scrm.message.received" end),
     id: ("message/" + .message.mid),
     occurred_at: (.timestamp | ts_auto),
     source: {entity_type: "conversation", entity_id: $user},
     identities: [handle_ident($platform; $user)],
     payload: ({platform: $platform,
                message_id: .message.mid,
                message_type: (.message | meta_message_type),
                text: (.message.text | meta_str),
                media_url: (.message.attachments[0]?.payload.url? | meta_str),
                account: $account} | compact)};

# https://www.facebook.com/<page>/posts/<post>?comment_id=<comment>, from
# "<page>_<post>" and "<post>_<comment>" ids (the page feed's id forms).
def meta_comment_url($post_id; $comment_id):
  if ($post_id | type) == "string" and ($post_id | test("^[0-9]+_[0-9]+$"))
     and ($comment_id | type) == "string" and ($comment_id | test("^[0-9]+_[0-9]+$"))
  then ($post_id | split("_")) as $p
     | "https://www.facebook.com/\($p[0])/posts/\($p[1])?comment_id=\($comment_id | split("_")[1])"
  else null end;

# A page feed or mention change. $entry: the entry (our page id, its time).
def meta_page_change($entry):
  .value as $v
  | ($v.from.id // $v.sender_id | meta_str) as $author
  | ($v.from.name // $v.sender_name | meta_str) as $author_name
  | select($author != null and $author != ($entry.id | meta_str))
  | if .field == "feed" and $v.item == "comment" and ($v.verb == "add" or $v.verb == "edited")
       and $v.comment_id != null and $v.post_id != null then
      {type: "scrm.comment.posted",
       id: ("comment/" + $v.comment_id + "/" + $v.verb + "/" + ($v.created_time | tostring)),
       # an edit keeps the comment's created_time; the notification's time
       # is when the edit was made known.
       occurred_at: (if $v.verb == "edited" then ($entry.time // $v.created_time)
                     else $v.created_time end | ts_auto),
       source: {entity_type: "comment", entity_id: $v.comment_id},
       identities: [handle_ident("facebook"; $author)],
       payload: ({platform: "facebook",
                  post_id: $v.post_id,
                  parent_id: (if $v.parent_id == $v.post_id then null else ($v.parent_id | meta_str) end),
                  author_handle: ($author | ascii_downcase),
                  author_name: $author_name,
                  text: ($v.message | meta_str),
                  url: meta_comment_url($v.post_id; $v.comment_id)} | compact)}
    elif ((.field == "feed" and ($v.item == "post" or $v.item == "status"))
          or (.field == "mention" and ($v.item == "post" or $v.item == "comment")))
         and $v.verb == "add" and ($v.message | type) == "string" and $v.message != "" then
      ($v.comment_id // $v.post_id | meta_str) as $post
      | {type: "scrm.mention.posted",
         id: ("mention/" + $post),
         occurred_at: ($v.created_time // $entry.time | ts_auto),
         source: {entity_type: "post", entity_id: $post},
         identities: [handle_ident("facebook"; $author)],
         payload: ({platform: "facebook",
                    author_handle: ($author | ascii_downcase),
                    author_name: $author_name,
                    text: $v.message,
                    url: ($v.permalink_url | meta_str)} | compact)}
    else empty end;

# An Instagram comments / live_comments change.
def meta_instagram_change($entry):
  .value as $v
  | select((.field == "comments" or .field == "live_comments")
           and $v.id != null and $v.from.id != null and $v.media.id != null
           and ($v.from.id | meta_str) != ($entry.id | meta_str))
  | {type: "scrm.comment.posted",
     id: ("comment/" + ($v.id | tostring)),
     occurred_at: ($entry.time | ts_auto),
     source: {entity_type: "comment", entity_id: ($v.id | tostring)},
     identities: [handle_ident("instagram"; $v.from.id | meta_str),
                  handle_ident("instagram"; $v.from.username)],
     payload: ({platform: "instagram",
                post_id: ($v.media.id | meta_str),
                parent_id: ($v.parent_id | meta_str),
                author_handle: ($v.from.username // $v.from.id | meta_str
                                | if . == null then null else ascii_downcase end),
                text: ($v.text | meta_str)} | compact)};

def events:
  if type != "object" or (.entry | type) != "array" then empty
  elif .object == "page" then
    .entry[] as $e
    | ($e.messaging[]? | meta_messaging("facebook")),
      ($e.changes[]? | meta_page_change($e))
  elif .object == "instagram" then
    .entry[] as $e
    | ($e.messaging[]? | meta_messaging("instagram")),
      ($e.changes[]? | meta_instagram_change($e))
  else empty end;
