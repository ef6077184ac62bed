# hub360 preset: WeChat Official Account (公众号), an SCRM source.
#
# Records:
# - the XML pushes WeChat POSTs to the server URL (hub360 has turned the
#   <xml> document into an object of strings, adapters/webhook/xmljson.h):
#   messages (MsgType text, image, voice, video, shortvideo, location,
#   link) and events (MsgType event: subscribe, unsubscribe, SCAN, ...);
# - user records of cgi-bin/user/info (or one item of the user_info_list of
#   cgi-bin/user/info/batchget, or that whole response), polled or imported
#   (NDJSON, one user per line).
# Anything else (other events, encrypted bodies that were not decrypted,
# unknown message types) produces nothing.
# Notes: tests/adapters/presets/wechat/NOTES.md.

def wechat_nonempty: if . == null or . == "" then null else . end;

# subscribe_scene of cgi-bin/user/info -> the open-set scene vocabulary.
def wechat_scene:
  if . == null or . == "" then null
  else {"ADD_SCENE_SEARCH": "search",
        "ADD_SCENE_QR_CODE": "qrcode",
        "ADD_SCENE_PROFILE_CARD": "share_card",
        "ADD_SCENE_PROFILE_LINK": "article",
        "ADD_SCENE_WECHAT_ADVERTISEMENT": "ad"}[.]
       // (ltrimstr("ADD_SCENE_") | ascii_downcase)
  end;

# ISO 3166-2 codes of China's provinces, by the names user/info gives
# (zh_CN and en).
def wechat_cn_province:
  {"北京": "BJ", "Beijing": "BJ", "天津": "TJ", "Tianjin": "TJ",
   "河北": "HE", "Hebei": "HE", "山西": "SX", "Shanxi": "SX",
   "内蒙古": "NM", "Inner Mongolia": "NM", "辽宁": "LN", "Liaoning": "LN",
   "吉林": "JL", "Jilin": "JL", "黑龙江": "HL", "Heilongjiang": "HL",
   "上海": "SH", "Shanghai": "SH", "江苏": "JS", "Jiangsu": "JS",
   "浙江": "ZJ", "Zhejiang": "ZJ", "安徽": "AH", "Anhui": "AH",
   "福建": "FJ", "Fujian": "FJ", "江西": "JX", "Jiangxi": "JX",
   "山东": "SD", "Shandong": "SD", "河南": "HA", "Henan": "HA",
   "湖北": "HB", "Hubei": "HB", "湖南": "HN", "Hunan": "HN",
   "广东": "GD", "Guangdong": "GD", "广西": "GX", "Guangxi": "GX",
   "海南": "HI", "Hainan": "HI", "重庆": "CQ", "Chongqing": "CQ",
   "四川": "SC", "Sichuan": "SC", "贵州": "GZ", "Guizhou": "GZ",
   "云南": "YN", "Yunnan": "YN", "西藏": "XZ", "Tibet": "XZ", "Xizang": "XZ",
   "陕西": "SN", "Shaanxi": "SN", "甘肃": "GS", "Gansu": "GS",
   "青海": "QH", "Qinghai": "QH", "宁夏": "NX", "Ningxia": "NX",
   "新疆": "XJ", "Xinjiang": "XJ", "台湾": "TW", "Taiwan": "TW",
   "香港": "HK", "Hong Kong": "HK", "澳门": "MO", "Macao": "MO", "Macau": "MO"};

# country/province of a user record -> "CN-GD", "CN", else the source's
# text ("California, United States"), else null.
def wechat_region:
  (.country | wechat_nonempty) as $country
  | (.province | wechat_nonempty) as $province
  | if $country == "中国" or $country == "China" then
      (if $province != null and wechat_cn_province[$province] != null
       then "CN-" + wechat_cn_province[$province] else "CN" end)
    else ([$province, $country] | map(select(. != null)) | join(", ")
          | wechat_nonempty)
    end;

# --- XML pushes -----------------------------------------------------------

def wechat_push_message:
  (.MsgType // "" | ascii_downcase) as $t
  | if ($t | IN("text", "image", "voice", "video", "shortvideo", "location", "link")) | not
    then empty
    else
      {type: "scrm.message.received",
       id: ("msg/" + .MsgId),
       occurred_at: (.CreateTime | ts_s),
       source: {entity_type: "conversation", entity_id: .FromUserName},
       identities: [ident("wechat_openid"; .FromUserName)],
       payload: ({platform: "wechat",
                  message_id: .MsgId,
                  message_type: (if $t == "shortvideo" then "video" else $t end),
                  text: (if $t == "text" then .Content
                         elif $t == "voice" then (.Recognition | wechat_nonempty)
                         elif $t == "location" then (.Label | wechat_nonempty)
                         elif $t == "link" then (.Title | wechat_nonempty)
                         else null end),
                  media_url: (if $t == "image" then (.PicUrl // .MediaId | wechat_nonempty)
                              elif $t == "link" then (.Url | wechat_nonempty)
                              else (.MediaId | wechat_nonempty) end),
                  account: (.ToUserName | wechat_nonempty)} | compact)}
    end;

# Events carry no MsgId; WeChat's advice is to de-duplicate retries on
# FromUserName + CreateTime, so that (with the event name) is the id.
def wechat_push_event:
  (.Event // "" | ascii_downcase) as $e
  | ("event/" + .FromUserName + "/" + .CreateTime + "/" + $e) as $id
  | {id: $id,
     occurred_at: (.CreateTime | ts_s),
     source: {entity_type: "follower", entity_id: .FromUserName},
     identities: [ident("wechat_openid"; .FromUserName)]} as $base
  | if $e == "subscribe" then
      (.EventKey | wechat_nonempty) as $key
      | $base + {type: "scrm.follow.started",
                 payload: ({platform: "wechat",
                            account: (.ToUserName | wechat_nonempty),
                            scene: (if $key != null and ($key | startswith("qrscene_"))
                                    then "qrcode" else null end),
                            scene_id: (if $key != null and ($key | startswith("qrscene_"))
                                       then ($key | ltrimstr("qrscene_")) else null end)}
                           | compact)}
    elif $e == "unsubscribe" then
      $base + {type: "scrm.follow.stopped",
               payload: ({platform: "wechat",
                          account: (.ToUserName | wechat_nonempty)} | compact)}
    else empty   # SCAN (a follower scanned a code), CLICK, VIEW, LOCATION, ...
    end;

def wechat_push:
  if .MsgType == "event" then wechat_push_event
  elif .MsgId != null then wechat_push_message
  else empty end;   # a message without an id

# A safe-mode push: an error, so the webhook keeps it as a dead letter
# rather than answering it as if it held nothing.
def wechat_encrypted:
  error("an encrypted (safe mode) push: hub360 does not decrypt WeChat's "
        + "AES bodies; set the Official Account to plaintext or compatible "
        + "mode");

# --- cgi-bin/user/info ----------------------------------------------------

def wechat_user:
  select(.openid != null and .openid != "")
  | (.subscribe == 1 or .subscribe == "1") as $following
  | (.unionid | wechat_nonempty) as $unionid
  | [ident("wechat_openid"; .openid), ident("wechat_unionid"; $unionid)] as $ids
  | (if $unionid != null then
       {type: "scrm.profile.linked",
        id: ("user/" + .openid + "/" + ($unionid | sub("^\\s+"; "") | sub("\\s+$"; ""))),
        occurred_at: ($meta.received_at // (.subscribe_time | ts_s)),
        source: {entity_type: "follower", entity_id: .openid},
        identities: $ids,
        payload: ({platform: "wechat",
                   nickname: (.nickname | wechat_nonempty),
                   avatar_url: (.headimgurl | wechat_nonempty),
                   verified: false,
                   locale: (.language | wechat_nonempty | if . == null then null else gsub("_"; "-") end),
                   region: wechat_region} | compact)}
     else empty end),
    (if $following and .subscribe_time != null then
       {type: "scrm.follow.started",
        id: ("follow/" + .openid + "/" + (.subscribe_time | tostring)),
        occurred_at: (.subscribe_time | ts_s),
        source: {entity_type: "follower", entity_id: .openid},
        identities: $ids,
        payload: ({platform: "wechat",
                   scene: (.subscribe_scene | wechat_scene),
                   scene_id: ((.qr_scene_str | wechat_nonempty)
                              // (.qr_scene | if . == null or . == 0 or . == "0" or . == ""
                                              then null else tostring end))} | compact)}
     else empty end);

def events:
  if type != "object" then empty
  elif .MsgType != null then wechat_push
  elif .Encrypt != null then wechat_encrypted
  elif (.user_info_list | type) == "array" then .user_info_list[] | wechat_user
  elif .openid != null then wechat_user
  else empty end;
