# hub360 preset: a social-listening mention feed (Brandwatch-, Meltwater-,
# Talkwalker-style exports), an SCRM source. The feed's shape is hub360's
# own, documented in tests/adapters/presets/mention/NOTES.md:
#
#   {"id": "bw-3482915501",                 tool's id of the mention (required)
#    "platform": "weibo",                   where it was posted (required)
#    "author_handle": "2489518277",         author's user id or @handle
#    "author_name": "茶友小王",
#    "author_followers": 1520,
#    "text": "...",                         (required; "title" is used when empty)
#    "url": "https://weibo.com/...",
#    "language": "zh",
#    "sentiment": 0.8,                      in [-1, 1]
#    "created_at": "2026-03-14T09:26:53.589Z",   RFC 3339 or epoch s/ms
#    "updated_at": "..."}                   optional: last change in the tool
#
# Webhook: one mention, or {"mentions": [...]}. Import: NDJSON, one mention
# a line. Poll: GET /mentions, a page {"mentions": [...], "next": token}.

# Platform names -> the catalogue's lower-case platform words.
def mention_platform:
  if . == null then null
  else _plain_label(sub("^\\s+"; "") | sub("\\s+$"; "") | gsub("\\s+"; "_")) # prelude.jq
     | {"twitter": "x", "x.com": "x", "sina_weibo": "weibo", "sina": "weibo",
        "rednote": "xiaohongshu", "red": "xiaohongshu", "little_red_book": "xiaohongshu",
        "fb": "facebook", "ig": "instagram"}[.] // .
  end;

# Platforms whose author handles are social accounts worth linking on.
# News sites, blogs, forums and review sites name authors by free text, and
# WeChat ids are never social handles (the catalogue's rule).
def mention_social_platforms:
  ["weibo", "x", "facebook", "instagram", "douyin", "tiktok", "youtube",
   "xiaohongshu", "bilibili", "kuaishou", "zhihu", "linkedin", "reddit",
   "threads", "bluesky", "pinterest", "twitch", "telegram", "vk"];

def mention_str: if . == null or . == "" then null else tostring end;

# A score in [-1, 1] (number or numeric string), else null: other scales
# and labels are not guessed into this one.
def mention_sentiment:
  (if type == "number" then .
   elif type == "string" and test("^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$") then tonumber
   else null end)
  | if . != null and . >= -1 and . <= 1 then . else null end;

def mention_one:
  select(type == "object" and .id != null and .platform != null)
  | (.platform | mention_platform) as $platform
  | ((.text | mention_str) // (.title | mention_str)) as $text
  | select($text != null)
  | (.author_handle | mention_str | if . == null then null else ltrimstr("@") | mention_str end) as $handle
  | ((.updated_at // .created_at) | ts_auto) as $at
  | {type: "scrm.mention.posted",
     id: ((.id | tostring) + (if $at != null then "/" + $at else "" end)),
     occurred_at: ($at // $meta.received_at),
     source: {entity_type: "mention", entity_id: (.id | tostring)},
     identities: [if $platform | IN(mention_social_platforms[]) then handle_ident($platform; $handle)
                  else empty end],
     payload: ({platform: $platform,
                author_handle: ($handle | if . == null then null else ascii_downcase end),
                author_name: (.author_name | mention_str),
                text: $text,
                url: (.url | mention_str),
                language: (.language | mention_str),
                sentiment: (.sentiment | mention_sentiment),
                reach: (.author_followers | if type == "number" then floor
                                            elif type == "string" and test("^[0-9]+$") then tonumber
                                            else null end)} | compact)};

def events:
  if type == "object" and (.mentions | type) == "array" then .mentions[] | mention_one
  elif type == "array" then .[] | mention_one
  else mention_one end;

# --- polling: GET {poll.url}/mentions ---------------------------------------

def poll_resources: ["mentions"];

# First page of a sync: updated_since the cursor (inclusive), sorted by
# (updated_at, id); later pages: the opaque `next` token alone. poll.params
# (a project or query id, ...) are passed as query parameters.
def poll_request($resource; $cursor; $page; $params):
  if $resource != "mentions" then error("mention: unknown resource \($resource)")
  else
    (($params // {}) | with_entries(.value |= tostring)) as $extra
    | {method: "GET",
       path: "/mentions",
       query: ($extra + {limit: "100"}
               + (if $page != null then {cursor: $page}
                  else {sort: "updated_at"}
                       + (if $cursor != null then {updated_since: $cursor.at} else {} end)
                  end)),
       headers: {},
       body: null}
  end;

def poll_response($resource; $page):
  if type == "array" then {records: ., next: null}
  else {records: (.mentions // []), next: (.next | mention_str)} end;

def poll_cursor($resource):
  {at: ((.updated_at // .created_at) | ts_auto), id: (.id | tostring)};
